"""Routers and oracle-gap analysis over pass matrices."""
