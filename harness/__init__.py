"""codeharness: run LLM-written code in sandboxes, record pass matrices, score routers."""


def load_matrix(run):
    """The pass matrix of a run directory (see ``harness.matrix.RunMatrix``)."""
    from .matrix import load_matrix as _load

    return _load(run)
