"""Imports go one way, down the layers (README: Layout): ``harness`` (CLI and
orchestration, knows every package) -> ``routers`` -> ``benchmarks`` -> ``sandboxes``.
Every import of every module counts, also one inside a function (where an upward
edge would hide from an import cycle) and a relative one."""

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("sandboxes", "benchmarks", "routers", "harness")  # lowest first
# sent to the sandbox as source and run there by a bare interpreter (sandboxes/pool.py)
SERVER_MODULES = ("judge", "namespaces", "forkchild", "forkreap", "forkwatch", "forkserver")


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; ``from x import y``
    counts as ``x.y`` too, so that ``from . import y`` names its module."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return out


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def test_no_module_imports_a_higher_layer():
    upward = {}  # one line per import statement
    for rank, layer in enumerate(LAYERS):
        for path in modules(layer):
            for line, name in imports(path):
                top = name.split(".")[0]
                if top in LAYERS and LAYERS.index(top) > rank:
                    upward.setdefault(f"{path.relative_to(ROOT)}:{line}", f"{layer} imports {name}")
    upward = [f"{where}: {what}" for where, what in upward.items()]
    assert not upward, "imports up the layers (harness > routers > benchmarks > sandboxes):\n" + "\n".join(upward)


def test_the_fork_server_imports_only_the_standard_library():
    def allowed(module: str) -> bool:
        parts = module.split(".")
        if parts[0] == "sandboxes":  # its own modules, as ``from . import forkchild``
            return len(parts) == 1 or parts[1] in SERVER_MODULES
        return parts[0] in sys.stdlib_module_names or parts[0] in SERVER_MODULES

    foreign = [f"sandboxes/{name}.py:{line}: {module}" for name in SERVER_MODULES
               for line, module in imports(ROOT / "sandboxes" / f"{name}.py") if not allowed(module)]
    assert not foreign, "the fork server runs on a bare interpreter:\n" + "\n".join(foreign)


def test_the_check_sees_every_kind_of_import(tmp_path):
    (tmp_path / "routers" / "sub").mkdir(parents=True)
    module = tmp_path / "routers" / "sub" / "m.py"
    module.write_text("import numpy\nfrom .. import data\nfrom ..base import Router\nfrom . import x\n"
                      "def f():\n    from harness.store import connect_readonly\n    import harness\n")
    assert imports(module, tmp_path) == [
        (1, "numpy"), (2, "routers"), (2, "routers.data"), (3, "routers.base"), (3, "routers.base.Router"),
        (4, "routers.sub"), (4, "routers.sub.x"), (6, "harness.store"), (6, "harness.store.connect_readonly"),
        (7, "harness")]
