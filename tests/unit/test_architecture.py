"""The architecture's rules, checked on the source: the pipeline never imports bpy, no module
imports itself back through others, modules stay small, and operators/ holds operators."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pipeline", "blender", "operators", "panels")
MAX_LINES = 430  # "about 400": the settings table and the growth stage sit just above it


def _modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """Modules of the extension that ``name`` imports, at module level or inside functions
    (``from . import x`` of a submodule counts as importing that submodule only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if not (isinstance(node, ast.ImportFrom) and node.level):
            continue
        base = package[: len(package) - (node.level - 1)]
        target = ".".join(base + (node.module.split(".") if node.module else []))
        subs = {f"{target}.{a.name}" for a in node.names} & MODULES.keys()
        if node.module is None and subs:
            found |= subs
        else:
            found |= ({target} & MODULES.keys()) | subs
    found.discard(name)
    return found


def test_the_extension_has_the_packages_it_describes() -> None:
    for name in ("pipeline.build", "pipeline.settings", "pipeline.io.image_io", "pipeline.ldi.lift",
                 "pipeline.mesh.ldi_mesh", "pipeline.motion", "pipeline.runtime.worker",
                 "blender.scene", "operators.jobs", "panels.properties"):  # fmt: skip
        assert name in MODULES, name


def test_pipeline_never_imports_bpy() -> None:
    for name, path in MODULES.items():
        if not name.startswith("pipeline"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            assert not any(n == "bpy" or n.startswith("bpy.") for n in names), name


def test_no_import_cycles() -> None:
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert graph["pipeline.build"], "the import scan found nothing: it would prove nothing"
    # Depth-first search for a back edge; report the cycle it closes.
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_function_level_imports_are_seen(tmp_path: Path) -> None:
    """A cycle hidden inside a function counts: the scan reads imports in function bodies."""
    a, b = tmp_path / "zz_a.py", tmp_path / "zz_b.py"
    a.write_text("def f():\n    from .zz_b import g\n", encoding="utf-8")
    b.write_text("from . import zz_a\n", encoding="utf-8")
    MODULES["pipeline.zz_a"], MODULES["pipeline.zz_b"] = a, b
    try:
        assert _imports("pipeline.zz_a", a) == {"pipeline.zz_b"}
        assert _imports("pipeline.zz_b", b) == {"pipeline.zz_a"}
    finally:
        del MODULES["pipeline.zz_a"], MODULES["pipeline.zz_b"]


def test_modules_stay_small() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    too_big = {name: n for name, n in sizes.items() if n > MAX_LINES}
    assert not too_big, f"modules over {MAX_LINES} lines: {too_big}"


def test_operators_hold_operator_classes_only() -> None:
    """operators/ defines Operator and FileHandler classes (and the job mixin they share);
    what they do lives in blender/ and pipeline/."""
    allowed_functions = {"register", "unregister", "handler", "_redraw_sidebars", "_images_of"}
    for name, path in MODULES.items():
        if not name.startswith("operators"):
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.FunctionDef):
                assert node.name in allowed_functions, f"{name}.{node.name}"
            if isinstance(node, ast.ClassDef):
                bases = {ast.unparse(b) for b in node.bases}
                ok = (
                    bases & {"bpy.types.Operator", "bpy.types.FileHandler"}
                    or node.name == "JobOperator"
                )
                assert ok, f"{name}.{node.name}: {bases}"
