"""Install the zip, drop a photo, get a 3D photo — without PyTorch: a fresh Blender whose Python
has no torch at all (``helpers.torchless_python``; ONNX Runtime comes only from the zip) and only
the extension zip installed imports a photo without a depth file, with the model files from a
local folder; torch is neither in Blender's nor in the worker's ``sys.modules`` (the worker
reports its own)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from helpers import torchless_python

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[2]
TR = ROOT / ".." / "shared" / "reference" / "tiefenrausch"


def _bench():
    spec = importlib.util.spec_from_file_location(
        "torchless_import", ROOT / "benchmarks" / "torchless_import.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.skipif(
    not (TR / "tiefenrausch_init.pb").is_file(),
    reason=f"official Tiefenrausch model files not present in {TR}",
)
def test_fresh_blender_without_torch_imports_a_dropped_photo(
    extension_zip: Path, sample_photo: Path, tmp_path: Path
) -> None:
    models = tmp_path / "models"  # a local model folder, as an offline user would have
    models.mkdir()
    for name in ("tiefenrausch.pb", "tiefenrausch_init.pb"):
        shutil.copy(TR / name, models / name)
    python = torchless_python(tmp_path / "venv", also_without=("onnxruntime",))
    report = _bench().run_inside(python, extension_zip, sample_photo, models, 1, tmp_path)
    (run,) = report["runs"]
    assert not report["torch_findable"] and not report["vendored_env"]  # really no torch here
    assert run["result"] == ["FINISHED"]
    # ONNX Runtime came from the zip's wheel, installed into Blender's extension packages.
    assert "extensions" in (report["onnxruntime_origin"] or ""), report["onnxruntime_origin"]
    assert run["backend"] == "tiefenrausch-onnx"  # Automatic, without torch
    assert run["depth_cache"]["misses"] == 1  # the network ran in the worker
    assert run["triangles"] > 0 and run["vertices"] > 0
    assert report["torch_in_blender"] is False
    assert run["torch_loaded_in_worker"] is False
