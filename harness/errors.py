"""Errors caused by the user's input: the CLI prints their message, never a traceback."""


class UserError(Exception):
    """Bad input (file, field, option). The message names what is wrong and where."""
