"""Imports go one way, down the layers (README: Layout): ``harness`` (CLI and
orchestration, knows every package) -> ``routers`` -> ``benchmarks`` -> ``sandboxes``,
and no modules import each other in a cycle. Every import of every module counts, also
one inside a function or an ``if TYPE_CHECKING:`` block (where an edge would hide
from an import at run time), a relative one and a package ``__init__``'s."""

import ast
import sys
from pathlib import Path

from support import ROOT

from sandboxes.pool import FORK_SERVER_MODULES

LAYERS = ("sandboxes", "benchmarks", "routers", "harness")  # lowest first


def import_statements(path: Path, root: Path = ROOT) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module name, names imported from it) of every import in the file:
    ``import a, b`` gives (line, a, []) and (line, b, []); ``from . import y`` gives
    (line, its package, [y])."""
    package = ".".join(path.relative_to(root).with_suffix("").parts[:-1])
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            out.append((node.lineno, base, [alias.name for alias in node.names]))
    return out


def imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; ``from x import y``
    counts as ``x.y`` too, so that ``from . import y`` names its module."""
    return [(line, name) for line, base, names in import_statements(path, root)
            for name in [base, *(f"{base}.{n}" for n in names)]]


def modules(package: str, root: Path = ROOT) -> list[Path]:
    return sorted((root / package).rglob("*.py"))


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the project's modules it imports. ``from x import y`` is an edge to
    the module ``x.y`` if there is one, else to ``x``; ``import x.y.f`` to the deepest
    module it names; a package is its ``__init__``."""
    paths = {}
    for path in (p for layer in LAYERS for p in modules(layer, root)):
        parts = path.relative_to(root).with_suffix("").parts
        paths[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for module, path in paths.items():
        graph[module] = set()
        for _, base, names in import_statements(path, root):
            for name in [f"{base}.{n}" if f"{base}.{n}" in paths else base for n in names] or [base]:
                while name and name not in paths:
                    name = name.rpartition(".")[0]
                if name and name != module:
                    graph[module].add(name)
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's strongly connected components of more than one module (Tarjan's
    algorithm), each sorted, in sorted order: the modules that import each other."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while not component or component[-1] != v:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(cycles)


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
            return len(parts) == 1 or parts[1] in FORK_SERVER_MODULES
        return parts[0] in sys.stdlib_module_names or parts[0] in FORK_SERVER_MODULES

    foreign = [f"sandboxes/{name}.py:{line}: {module}" for name in FORK_SERVER_MODULES
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


def test_no_import_cycle():
    cycles = import_cycles(import_graph())
    assert not cycles, "modules that import each other, directly or round a loop:\n" + "\n".join(
        ", ".join(cycle) for cycle in cycles)


def test_the_cycle_check_sees_every_kind_of_import(tmp_path):
    files = {
        "sandboxes/__init__.py": "from .pool import Pool\n",
        "sandboxes/pool.py": "import json\n\n\ndef f():\n    import sandboxes\n",  # cycle via __init__
        "benchmarks/__init__.py": "",
        "benchmarks/a.py": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from benchmarks.b import B\n",
        "benchmarks/b.py": "from . import c\n",
        "benchmarks/c.py": "import benchmarks.a\nimport benchmarks.c\n",  # a -> b -> c -> a; itself: no edge
        "routers/__init__.py": "",
        "routers/r.py": "from sandboxes import pool\nfrom benchmarks import a, b\nfrom routers import Router\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert import_graph(tmp_path) == {
        "sandboxes": {"sandboxes.pool"}, "sandboxes.pool": {"sandboxes"}, "benchmarks": set(),
        "benchmarks.a": {"benchmarks.b"}, "benchmarks.b": {"benchmarks.c"}, "benchmarks.c": {"benchmarks.a"},
        "routers": set(), "routers.r": {"sandboxes.pool", "benchmarks.a", "benchmarks.b", "routers"}}
    assert import_cycles(import_graph(tmp_path)) == [
        ["benchmarks.a", "benchmarks.b", "benchmarks.c"], ["sandboxes", "sandboxes.pool"]]
