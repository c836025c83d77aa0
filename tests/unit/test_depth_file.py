"""Depth maps from files: formats, depth vs disparity, resizing, repair and refusal."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.depth.disparity import normalise, scene_depth
from pipeline.errors import DepthFileError
from pipeline.io.depth_file import read_depth_file


def ramp(h: int = 30, w: int = 40) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return (2.0 + x / w + 3.0 * y / h).astype(np.float32)


def test_npy_depth_keeps_true_values(tmp_path: Path) -> None:
    depth = ramp()
    np.save(tmp_path / "d.npy", depth)
    m = read_depth_file(tmp_path / "d.npy", "DEPTH")
    np.testing.assert_array_equal(m.values, depth)
    np.testing.assert_allclose(m.disparity(), 1 / depth, rtol=1e-6)
    # One global scale, never a shift: the true shape survives.
    np.testing.assert_allclose(scene_depth(m, 2.0, 30.0), 2.0 * depth, rtol=1e-6)


def test_float16_and_float64_npy(tmp_path: Path) -> None:
    for dtype in (np.float16, np.float64):
        np.save(tmp_path / "d.npy", ramp().astype(dtype))
        m = read_depth_file(tmp_path / "d.npy", "DEPTH")
        assert m.values.dtype == np.float32
        np.testing.assert_allclose(m.values, ramp(), rtol=1e-3)


def test_png8_disparity_near_bright(tmp_path: Path) -> None:
    disp = np.tile(np.linspace(10, 250, 40).astype(np.uint8), (30, 1))
    cv2.imwrite(str(tmp_path / "d.png"), disp)
    m = read_depth_file(tmp_path / "d.png", "DISPARITY")
    assert np.abs(m.values - disp).max() <= 0.5  # dequantised within half a level
    z = scene_depth(m, 1.0, 1000.0)
    assert z[0, -1] == pytest.approx(1.0)  # brightest = nearest, at depth_scale
    assert z[0, 0] == pytest.approx(25.0, rel=0.06)  # 250 / 10, each within half a level


def test_png16_depth(tmp_path: Path) -> None:
    depth_mm = (ramp() * 1000).astype(np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), depth_mm)
    m = read_depth_file(tmp_path / "d.png", "DEPTH")
    assert np.abs(m.values - depth_mm).max() <= 0.5
    np.testing.assert_allclose(scene_depth(m, 0.001, 30), depth_mm / 1000.0, rtol=3e-4)


def test_integer_maps_lose_their_terraces_but_keep_edges(tmp_path: Path) -> None:
    """An 8-bit map of a gentle slope is a staircase of one-level terraces (which the mesh
    would show as steps); read back it is smooth, within half a level of the file, and an
    edge many levels high stays sharp and in place."""
    h, w = 60, 400
    x = np.arange(w, dtype=np.float32)
    slope = 40.0 + 12.0 * x / w  # 12 levels over 400 px: terraces ~33 px wide
    disp = np.tile(np.round(slope).astype(np.uint8), (h, 1))
    disp[:, 300:] += 100  # an edge 100 levels high
    cv2.imwrite(str(tmp_path / "d.png"), disp)
    m = read_depth_file(tmp_path / "d.png", "DISPARITY")
    assert np.abs(m.values - disp).max() <= 0.5
    row = m.values[h // 2]
    steps = np.diff(row[:290])
    assert steps.max() < 0.25  # no terrace step left (the file's steps are 1.0)
    assert row[300] - row[299] > 98.5  # the edge: the same column, as high as in the file
    np.testing.assert_array_equal(
        np.diff(disp[h // 2].astype(np.float32))[:290].max(), np.float32(1.0)
    )


def test_float_tiff_and_exr(tmp_path: Path) -> None:
    depth = ramp()
    cv2.imwrite(str(tmp_path / "d.tif"), depth)
    np.testing.assert_array_equal(read_depth_file(tmp_path / "d.tif", "DEPTH").values, depth)
    os.environ["OPENCV_IO_ENABLE_OPENEXR"] = "1"
    if cv2.imwrite(str(tmp_path / "d.exr"), depth):
        np.testing.assert_allclose(
            read_depth_file(tmp_path / "d.exr", "DEPTH").values, depth, rtol=1e-3
        )
    else:
        pytest.skip("this OpenCV build cannot write EXR (OPENCV_IO_ENABLE_OPENEXR read too late)")


def test_colour_png_uses_one_channel(tmp_path: Path) -> None:
    disp = np.tile(np.linspace(10, 250, 40).astype(np.uint8), (30, 1))
    cv2.imwrite(str(tmp_path / "d.png"), np.dstack([disp] * 3))
    m = read_depth_file(tmp_path / "d.png", "DISPARITY")
    assert m.values.shape == (30, 40)


def test_resized_to_photo_without_shift(tmp_path: Path) -> None:
    # A step edge in the middle of a small map stays in the middle of the large one.
    depth = np.full((16, 20), 4.0, np.float32)
    depth[:, 10:] = 1.0
    np.save(tmp_path / "d.npy", depth)
    m = read_depth_file(tmp_path / "d.npy", "DEPTH", size=(80, 64))
    assert m.values.shape == (64, 80)
    row = normalise(m.disparity())[32]
    crossing = np.argmax(row > 0.5 * (row.min() + row.max()))
    assert crossing in (39, 40)
    # Downsizing works too.
    assert read_depth_file(tmp_path / "d.npy", "DEPTH", size=(10, 8)).values.shape == (8, 10)


def test_a_few_bad_pixels_are_repaired(tmp_path: Path) -> None:
    depth = ramp()
    depth[5, 5] = np.nan
    depth[6, 7] = np.inf
    depth[10, 10] = 0.0
    np.save(tmp_path / "d.npy", depth)
    m = read_depth_file(tmp_path / "d.npy", "DEPTH")
    assert np.isfinite(m.values).all() and m.values.min() > 0
    assert m.warnings and "filled 3" in m.warnings[0]
    assert m.values[5, 5] == pytest.approx(ramp()[5, 5], rel=0.1)


def test_mostly_bad_map_is_refused(tmp_path: Path) -> None:
    depth = np.full((30, 40), np.nan, np.float32)
    depth[:5] = 1.0
    np.save(tmp_path / "d.npy", depth)
    with pytest.raises(DepthFileError, match="d.npy.*non-finite"):
        read_depth_file(tmp_path / "d.npy", "DEPTH")


def test_constant_map_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "flat.npy", np.full((30, 40), 3.0, np.float32))
    with pytest.raises(DepthFileError, match="flat.npy.*constant"):
        read_depth_file(tmp_path / "flat.npy", "DEPTH")


def test_negative_depth_as_disparity_hint(tmp_path: Path) -> None:
    np.save(tmp_path / "neg.npy", -ramp())
    with pytest.raises(DepthFileError, match="depth_kind"):
        read_depth_file(tmp_path / "neg.npy", "DEPTH")


@pytest.mark.parametrize(
    "content,match",
    [(b"", "not"), (b"garbage bytes", "not"), (b"\x93NUMPY\x01\x00garbage", "not a valid .npy")],
)
def test_unreadable_files(tmp_path: Path, content: bytes, match: str) -> None:
    for name in ("d.npy", "d.png"):
        (tmp_path / name).write_bytes(content)
        with pytest.raises(DepthFileError, match="d\\.(npy|png)"):
            read_depth_file(tmp_path / name, "DEPTH")


def test_wrong_shapes(tmp_path: Path) -> None:
    np.save(tmp_path / "v.npy", np.ones(10, np.float32))
    with pytest.raises(DepthFileError, match="shape"):
        read_depth_file(tmp_path / "v.npy", "DEPTH")
    np.save(tmp_path / "s.npy", np.array(["a", "b"]))
    with pytest.raises(DepthFileError):
        read_depth_file(tmp_path / "s.npy", "DEPTH")


def test_missing_and_folder(tmp_path: Path) -> None:
    with pytest.raises(DepthFileError, match="does not exist"):
        read_depth_file(tmp_path / "none.npy", "DEPTH")
    with pytest.raises(DepthFileError, match="folder"):
        read_depth_file(tmp_path, "DEPTH")
