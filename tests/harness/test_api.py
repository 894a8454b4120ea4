"""The Python API (``harness/__init__.py``): every public name resolves to what the
module defining it holds, even when that module was imported first, and ``import
harness`` alone stays light."""

import subprocess
import sys
from importlib.metadata import version

from support import ROOT

import harness


def test_every_public_name_is_the_defining_modules_object():
    from harness.errors import UserError
    from harness.pipeline.runner import RunConfig, run
    from harness.store.matrix import RunMatrix, load_matrix

    assert harness.run is run and harness.RunConfig is RunConfig  # not the harness.pipeline package
    assert (harness.load_matrix, harness.RunMatrix, harness.UserError) == (load_matrix, RunMatrix, UserError)
    assert all(callable(getattr(harness, name)) for name in harness.__all__ if name != "__version__")
    assert harness.__version__ == version("codeharness")


def test_importing_harness_loads_no_heavy_module():
    code = "import sys, harness; print(sorted(m for m in ('pandas', 'numpy', 'docker', 'ray') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
