"""The package's import graph: no cycles, models/ stands alone, local imports only for heavy
modules, no module over 400 lines. Read from the source with ``ast``, nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("fgemotalk_cli", "models")
#: Third-party modules whose import costs start-up time or that only an extra installs.
HEAVY_THIRD_PARTY = {"torch", "transformers", "torch_geometric", "safetensors", "h5py",
                     "dlib", "face_recognition_models", "tensorboard", "matplotlib", "scipy"}
#: What the command line must not load before a command runs, so that ``--help`` is instant.
LIBRARY_THIRD_PARTY = {"numpy", "cv2", "av", "mediapipe", "PIL", "soundfile", "soxr"}
#: The command-line layer: it may import the library inside the command that runs it.
CLI_MODULES = {"fgemotalk_cli.cli", "fgemotalk_cli.cli_tools"}
MAX_LINES = 400


def _module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = _module_files()


def _own(name: str) -> str | None:
    """The project module an import names (a name inside a module resolves to the module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts))]


def _imports(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        # `from package import submodule` names the submodule; other names resolve upward.
        return [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _top_level_imports(tree: ast.Module, typing_only: bool = True) -> list[str]:
    """What the module imports at its top; ``typing_only`` adds the ``TYPE_CHECKING`` block
    (no cost at run time, but a cycle all the same for a reader)."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.If) and _is_type_checking(node) and typing_only:
            for inner in node.body:
                names += _imports(inner)
        names += _imports(node)
    return names


def _local_imports(tree: ast.Module) -> list[tuple[str, int]]:
    found = []
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                found += [(name, node.lineno) for name in _imports(node)]
    return found


TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}
GRAPH = {name: {target for target in map(_own, _top_level_imports(tree))
                if target and target != name}
         for name, tree in TREES.items()}


def _heavy_modules(third_party: set[str] = HEAVY_THIRD_PARTY) -> set[str]:
    """Project modules that import one of ``third_party`` at their top level, directly or
    through another project module."""
    heavy = {name for name, tree in TREES.items()
             if any(imported.split(".")[0] in third_party
                    for imported in _top_level_imports(tree, typing_only=False))}
    runtime_graph = {name: {target for target in map(_own, _top_level_imports(tree, False))
                            if target and target != name}
                     for name, tree in TREES.items()}
    for name, targets in runtime_graph.items():
        # Importing a.b.c runs a/__init__.py and a/b/__init__.py first.
        targets |= {parent for target in list(targets) for parent in _parents(target)
                    if parent != name}
    changed = True
    while changed:
        changed = False
        for name, targets in runtime_graph.items():
            if name not in heavy and targets & heavy:
                heavy.add(name)
                changed = True
    return heavy


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(name: str) -> None:
        index[name] = low[name] = len(index)
        stack.append(name)
        on_stack.add(name)
        for target in GRAPH[name]:
            if target not in index:
                visit(target)
                low[name] = min(low[name], low[target])
            elif target in on_stack:
                low[name] = min(low[name], index[target])
        if low[name] == index[name]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == name:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for name in sorted(GRAPH):
        if name not in index:
            visit(name)
    return found


def test_the_packages_were_found() -> None:
    assert {"fgemotalk_cli.cli", "fgemotalk_cli.engines.warp.render", "models.generator"} <= set(
        MODULES)


def test_no_import_cycles() -> None:
    assert _cycles() == []


def test_models_import_nothing_from_the_tool() -> None:
    offenders = {name: sorted(t for t in targets if t.startswith("fgemotalk_cli"))
                 for name, targets in GRAPH.items() if name.startswith("models")}
    assert {name: t for name, t in offenders.items() if t} == {}
    local = [(name, imported) for name, tree in TREES.items() if name.startswith("models")
             for imported, _ in _local_imports(tree) if imported.startswith("fgemotalk_cli")]
    assert local == []


def test_local_imports_of_own_modules_are_only_for_heavy_ones() -> None:
    """A function-local import of our own code is for a module that drags torch and the
    like in (start-up time, the torch-free install), never to hide a cycle."""
    heavy = _heavy_modules()
    library = _heavy_modules(LIBRARY_THIRD_PARTY | HEAVY_THIRD_PARTY)
    light_local = [f"{name}:{line} imports {_own(imported)}"
                   for name, tree in TREES.items()
                   for imported, line in _local_imports(tree)
                   if _own(imported) and _own(imported) not in heavy
                   and not (name in CLI_MODULES and _own(imported) in library)]
    assert light_local == []


def test_the_command_line_loads_no_library_before_a_command_runs() -> None:
    """``fgemotalk --help`` and option errors need Typer and the option definitions only: the
    CLI modules reach no NumPy/OpenCV/PyAV/MediaPipe at their top level."""
    library = _heavy_modules(LIBRARY_THIRD_PARTY | HEAVY_THIRD_PARTY)
    reached: set[str] = set()
    pending = list(CLI_MODULES | {"fgemotalk_cli.__main__"} & set(MODULES))
    while pending:
        name = pending.pop()
        if name not in reached:
            reached.add(name)
            pending += [target for target in GRAPH[name] if target not in reached]
            pending += [parent for parent in _parents(name) if parent in MODULES]
    assert sorted(reached & library) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_over_400_lines(name: str) -> None:
    assert len(MODULES[name].read_text().splitlines()) <= MAX_LINES
