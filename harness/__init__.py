"""codeharness: run LLM-written code in sandboxes, record pass matrices, score routers."""


def load_matrix(run, full=False):
    """The pass matrix of a run directory (see ``harness.store.matrix.RunMatrix``); ``full``:
    the samples table has each sample's texts too (completion, program, stderr...)."""
    from .store.matrix import load_matrix as _load

    return _load(run, full)
