"""The extension as the benchmarks drive it: installed in Blender if it is, else this checkout
(the same choice ``scripts/oneshot3d.py`` makes for headless jobs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_extension() -> ModuleType:
    """The extension package (its name differs when installed); imports bpy."""
    # scripts/oneshot3d.py is loaded under another name: "oneshot3d" is the package itself.
    spec = importlib.util.spec_from_file_location(
        "oneshot3d_script", ROOT / "scripts" / "oneshot3d.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.ensure_extension()
