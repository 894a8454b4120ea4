"""codeharness: run LLM-written code in sandboxes, record pass matrices, score routers.

The Python API (the CLI, ``python -m harness``, is built on it)::

    import harness
    summary = harness.run(harness.RunConfig(datasets=("humaneval",), pool="pool.yaml", limit=10))
    m = harness.load_matrix("runs/humaneval")   # a RunMatrix: m.passes, m.costs, m.samples
    harness.evaluate("samples.jsonl", "humaneval", sandbox_name=None, workers=2, limits=harness.Limits())

Bad input raises ``harness.UserError`` with a one-line message naming the file or field.
Names are imported on first use, so ``import harness`` stays cheap.

Layout, by stage (lower layers ``sandboxes`` -> ``benchmarks`` -> ``routers`` never import
``harness``): ``pipeline/`` generates and executes (pool.yaml, the runner, rescore, the
end-of-run table), ``providers/`` are the model back ends, ``store/`` is the run store and
what reads it (matrices, several sources), ``score/`` scores samples files and checks
reference solutions, ``route/`` trains and compares routers on stored runs (and the
``gate``), ``report/`` draws the HTML report, ``cli/`` is one module per command.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("codeharness")
except PackageNotFoundError:  # a source tree on sys.path, not installed
    __version__ = "0+unknown"

# public name -> module that defines it
_EXPORTS = {
    "UserError": "harness.errors",
    "RunConfig": "harness.pipeline.runner",
    "run": "harness.pipeline.runner",
    "rescore": "harness.pipeline.rescore",
    "RescoreConfig": "harness.pipeline.rescore",
    "load_pool": "harness.pipeline.pool_file",
    "ModelSpec": "harness.providers.spec",
    "RunMatrix": "harness.store.matrix",
    "load_matrix": "harness.store.matrix",
    "write_matrix": "harness.store.matrix",
    "evaluate": "harness.score.samples",
    "validate": "harness.score.references",
    "pass_at_k": "harness.metrics",
    "Limits": "sandboxes.records",
    "get_sandbox": "sandboxes",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'harness' has no attribute {name!r}") from None
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
