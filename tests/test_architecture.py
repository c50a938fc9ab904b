"""The layering of docs/ARCHITECTURE.md, read from the source with `ast`: no module imports
from a higher layer, no two modules import each other (directly or round a loop, lazy
imports inside functions included), and the engine never imports streamlit or the app.

The checker is tested on made-up graphs first, so a green run means something."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# lowest first; a module may import from its own layer and the ones below
LAYERS = ("base", "chem", "model", "sampling", "train", "bench", "store", "front")
FRONT = ("engine.cli", "engine.__main__")
# modules beside the layer folders that are not base: the project store (SQLite catalogue,
# InChIKeys with RDKit, run names from sampling settings) sits above every engine layer
STORE = ("engine.project",)


def layer_of(module: str) -> str | None:
    """The layer of a project module: its folder under engine/, "store" for the project
    store, "front" for the CLI (the engine.cli package) and the app, "base" for the other
    modules beside the folders (errors, device, output); None outside engine/ and app/."""
    parts = module.split(".")
    if module in FRONT or parts[0] == "app" or module.startswith("engine.cli."):
        return "front"
    if parts[0] != "engine":
        return None
    if module in STORE:
        return "store"
    if len(parts) > 1 and parts[1] in LAYERS[1:-2]:
        return parts[1]
    return "base" if len(parts) <= 2 else None


def module_names() -> dict[str, Path]:
    """Every module of engine/ and app/ by dotted name (a package by its folder's name)."""
    found = {}
    for top in ("engine", "app"):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(path: Path, name: str, known: set[str]) -> set[str]:
    """The project modules that module `name` (file `path`) imports, anywhere in the file:
    `from a.b import c` counts as a.b.c when that is a module, else as a.b."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package upwards
                package = name.split(".") if is_package else name.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `import a.b.c` where only a.b is ours
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(path, name, set(modules)) for name, path in modules.items()}


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """'a -> b' for every import of a higher layer, or between the CLI and the app."""
    bad = []
    for source, targets in graph.items():
        mine = layer_of(source)
        for target in sorted(targets):
            theirs = layer_of(target)
            if mine is None or theirs is None:
                continue
            if LAYERS.index(theirs) > LAYERS.index(mine):
                bad.append(f"{source} ({mine}) -> {target} ({theirs})")
            elif mine == theirs == "front" and source.split(".")[0] != target.split(".")[0]:
                bad.append(f"{source} -> {target} (the CLI and the app are separate fronts)")
    return bad


def import_loops(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every loop of the graph as its strongly connected set of modules (Tarjan)."""
    index, low, stack, on_stack, loops = {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return loops


def test_the_checker_finds_an_upward_import_and_a_loop():
    graph = {"engine.chem.a": {"engine.sampling.b"}, "engine.sampling.b": set(),
             "engine.train.c": {"engine.train.d"}, "engine.train.d": {"engine.train.c"},
             "engine.cli": {"app.main"}, "app.main": {"engine.train.c"}}
    assert upward_imports(graph) == [
        "engine.chem.a (chem) -> engine.sampling.b (sampling)",
        "engine.cli -> app.main (the CLI and the app are separate fronts)"]
    assert import_loops(graph) == [["engine.train.c", "engine.train.d"]]


def test_the_checker_reads_lazy_and_package_imports(tmp_path):
    source = tmp_path / "m.py"
    source.write_text("from engine.train import runfolder\n"
                      "def f():\n    from engine.cli import main  # noqa\n")
    known = {"engine.train", "engine.train.runfolder", "engine.cli", "engine.x"}
    assert imports_of(source, "engine.x", known) == {"engine.train.runfolder", "engine.cli"}


def test_every_module_has_a_layer():
    assert [m for m in import_graph() if layer_of(m) is None] == []


@pytest.mark.parametrize("check", [upward_imports, import_loops])
def test_the_project_keeps_its_layers(check):
    assert check(import_graph()) == []


def test_the_engine_never_imports_streamlit_or_the_app():
    for name, path in module_names().items():
        if not name.startswith("engine"):
            continue
        tree = ast.parse(path.read_text())
        imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for alias in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and not node.level}
        assert not imported & {"streamlit", "app"}, name


def test_errors_imports_nothing():
    tree = ast.parse((ROOT / "engine" / "errors.py").read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
