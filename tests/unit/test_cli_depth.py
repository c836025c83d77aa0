"""The ``depth`` subcommand: native or full-resolution output, atomic writes, exit status 2
with a message on errors."""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import types
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.depth import registry
from pipeline.errors import ModelError
from pipeline.runtime import cli_depth, models

REPO = Path(__file__).resolve().parents[2]
REFERENCE = REPO / ".." / "shared" / "reference"
FAKE_MODULE = "oneshot3d_fake_depth_backend"


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    cli_depth.add_parser(sub)
    return parser.parse_args(argv)


@pytest.fixture
def fake_backend(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A backend module whose native grid is half the photo; 'fail' in extras raises."""
    module = types.ModuleType(FAKE_MODULE)
    calls: list[str] = []

    def estimate_native(photo, settings):  # type: ignore[no-untyped-def]
        calls.append(settings.model_dir)
        if settings.model_dir == "fail":
            raise ModelError("Model 'fake.bin' was not found. Download it first.")
        h, w = photo.height // 2, photo.width // 2
        return np.linspace(1, 2, h * w, dtype=np.float32).reshape(h, w)

    module.estimate_native = estimate_native  # type: ignore[attr-defined]
    module.calls = calls  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, FAKE_MODULE, module)
    monkeypatch.setitem(registry.BACKEND_MODULES, "fake", (FAKE_MODULE, "estimate_native"))
    return module


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rgb = (np.random.default_rng(0).random((40, 60, 3)) * 255).astype(np.uint8)
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), rgb)
    return path


def test_native_and_full_res(
    fake_backend: types.ModuleType, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "native.npy"
    assert cli_depth.run(_parse(["depth", str(photo), "-o", str(out), "--backend", "fake"])) == 0
    native = np.load(out)
    assert native.shape == (20, 30) and native.dtype == np.float32
    assert "30x20" in capsys.readouterr().out

    # --full-res resizes to the photo; an output name without .npy is kept as given.
    full = tmp_path / "full.depth"
    args = _parse(["depth", str(photo), "-o", str(full), "--backend", "fake", "--full-res"])
    assert cli_depth.run(args) == 0
    data = np.load(full)
    assert data.shape == (40, 60)
    assert data.min() >= 1.0 - 1e-6 and data.max() <= 2.0 + 1e-6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.depth", "native.npy", "photo.png"]


def test_errors_exit_2_and_leave_output_alone(
    fake_backend: types.ModuleType, photo: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out.npy"
    out.write_bytes(b"previous result")
    args = _parse(["depth", str(photo), "-o", str(out), "--backend", "fake", "--model-dir", "fail"])
    assert cli_depth.run(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "fake.bin" in err
    assert out.read_bytes() == b"previous result"  # untouched, no half-written file

    missing = tmp_path / "missing.jpg"
    assert cli_depth.run(_parse(["depth", str(missing), "-o", str(out), "--backend", "fake"])) == 2
    assert "missing.jpg" in capsys.readouterr().err

    bad_folder = tmp_path / "no" / "such" / "dir" / "out.npy"
    assert (
        cli_depth.run(_parse(["depth", str(photo), "-o", str(bad_folder), "--backend", "fake"]))
        == 2
    )
    assert "error:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npy", "photo.png"]


def test_unknown_backend_is_rejected_by_the_parser() -> None:
    with pytest.raises(SystemExit) as exit_info:
        _parse(["depth", "x.jpg", "-o", "y.npy", "--backend", "nope"])
    assert exit_info.value.code == 2
    names = cli_depth._backend_names()
    assert {"tiefenrausch", "tiefenrausch-exact", "depth-anything-v2-small"} <= set(names)


def test_depth_anything_end_to_end_with_random_weights(
    photo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch = pytest.importorskip("torch", reason="Depth Anything V2 runs in torch")
    from pipeline.depth import depth_anything_v2 as dav2

    ckpt_dir = tmp_path / "models"
    ckpt_dir.mkdir()
    ckpt = ckpt_dir / "depth_anything_v2_vits.pth"
    gen = torch.Generator().manual_seed(0)
    state = {
        k: torch.randn(v.shape, generator=gen) * 0.05
        for k, v in dav2.build_model("vits").state_dict().items()
    }
    torch.save(state, ckpt)
    data = ckpt.read_bytes()
    info = models.CATALOGUE["depth_anything_v2_vits"]
    monkeypatch.setitem(
        models.CATALOGUE,
        info.name,
        models.ModelInfo(
            **{**info.__dict__, "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        ),
    )
    monkeypatch.delenv(models.MODEL_DIR_ENV, raising=False)
    out = tmp_path / "dav2.npy"
    args = _parse(["depth", str(photo), "-o", str(out), "--model-dir", str(ckpt_dir)])
    assert args.backend is None  # automatic: the network that works in this installation
    assert cli_depth.run(args) == 0
    assert args.backend == "depth-anything-v2-small"  # PyTorch is installed here
    disparity = np.load(out)
    assert disparity.shape == dav2.network_size(40, 60) == (518, 784)
    assert np.isfinite(disparity).all() and (disparity >= 0).all()


def test_tiefenrausch_matches_the_official_output(tmp_path: Path) -> None:
    folder = REFERENCE / "tiefenrausch"
    if not (folder / "pumpkin.npy").is_file():
        pytest.skip(f"reference data not present at {folder}")
    pytest.importorskip("torch", reason="Tiefenrausch runs in torch")
    if not (REPO / "pipeline" / "depth" / "tiefenrausch.py").is_file():
        pytest.skip("the Tiefenrausch backend module is not in this checkout")
    out = tmp_path / "pumpkin.npy"
    args = _parse(
        [
            "depth",
            str(folder / "pumpkin.jpg"),
            "-o",
            str(out),
            "--backend",
            "tiefenrausch",
            "--model-dir",
            str(folder),
        ]
    )
    assert cli_depth.run(args) == 0
    ours, official = np.load(out), np.load(folder / "pumpkin.npy")
    assert ours.shape == official.shape == (384, 288)  # the official script's grid
    corr = np.corrcoef(np.log(ours).ravel(), np.log(official).ravel())[0, 1]
    assert corr > 0.999


def test_module_entry_point_reports_errors(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = tmp_path / "out.npy"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.runtime.cli_depth",
            "depth",
            str(tmp_path / "absent.jpg"),
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "absent.jpg" in result.stderr and not out.exists()
