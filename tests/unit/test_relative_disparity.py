"""Relative (affine) disparity and depth maps that do not fit the photo (issues 13.4, 15.1)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.build import build_mesh
from pipeline.errors import DepthFileError
from pipeline.io.depth_file import DepthMap, read_depth_file, relative_disparity_map
from pipeline.io.image_io import Photo
from pipeline.settings import PipelineSettings

FAR = PipelineSettings().far_ratio


def true_disparity(h: int = 60, w: int = 80) -> np.ndarray:
    """A ground plane receding to the far clamp (top rows) and a nearer box: normalised
    disparity from exactly 1 / far_ratio to 1."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = 1.0 / FAR + (1.0 - 1.0 / FAR) * (y / (h - 1)) ** 2
    disp[34:50, 20:44] = np.maximum(disp[34:50, 20:44], 0.9)
    return disp.astype(np.float32)


def scene(h: int = 60, w: int = 80) -> Photo:
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = (x * 3) % 256
    rgb[..., 1] = (y * 4) % 256
    rgb[..., 2] = 90
    return Photo("p.png", rgb, None, None, 1)


def test_affine_disparity_gives_the_true_mesh_up_to_scale(tmp_path: Path) -> None:
    truth = true_disparity()
    scale, shift = 7.5, -2.0  # t < 0: the distance is negative
    affine = truth * scale + shift
    assert (affine <= 0).mean() > 0.2
    np.save(tmp_path / "midas.npy", affine)
    read = read_depth_file(tmp_path / "midas.npy", "DISPARITY", far_ratio=FAR)
    # One line says what happened; no "filled ... pixels" and no wrong-kind hint.
    assert len(read.warnings) == 1 and "shifted" in read.warnings[0], read.warnings
    assert "filled" not in read.warnings[0] and "depth_kind (" not in read.warnings[0]
    np.testing.assert_allclose(read.values, truth * scale, rtol=1e-4, atol=1e-5)

    settings = PipelineSettings(median_size=0, min_edge_length=0, far_ratio=FAR)
    photo = scene()
    expected = build_mesh(photo, DepthMap("DISPARITY", truth), settings)
    got = build_mesh(photo, read, settings)
    assert got.triangles.shape == expected.triangles.shape
    np.testing.assert_array_equal(got.triangles, expected.triangles)
    np.testing.assert_allclose(got.vertices, expected.vertices, rtol=1e-3, atol=1e-4)


def test_explicit_relative_disparity_shifts_without_a_message(tmp_path: Path) -> None:
    truth = true_disparity()
    np.save(tmp_path / "rel.npy", truth * 3.0 - 1.5)
    read = read_depth_file(tmp_path / "rel.npy", "RELATIVE_DISPARITY")
    assert read.warnings == []
    np.testing.assert_allclose(read.values, truth * 3.0, rtol=1e-4, atol=1e-5)
    # A relative map already inside the clamp is left as it is (no shift is needed).
    inside = relative_disparity_map(truth + 1.0, FAR)
    np.testing.assert_array_equal(inside.values, truth + 1.0)
    assert inside.kind == "RELATIVE_DISPARITY"


def test_scattered_nan_is_still_filled_from_neighbours(tmp_path: Path) -> None:
    truth = true_disparity() + 0.5
    rng = np.random.default_rng(3)
    holes = rng.random(truth.shape) < 0.05
    broken = truth.copy()
    broken[holes] = np.nan
    np.save(tmp_path / "nan.npy", broken)
    read = read_depth_file(tmp_path / "nan.npy", "DISPARITY")
    assert len(read.warnings) == 1 and f"filled {holes.sum()} " in read.warnings[0]
    assert "shifted" not in read.warnings[0]
    assert np.isfinite(read.values).all()
    # Nearest-neighbour fill: close to the truth except where a hole touches the box's edge.
    assert np.mean(np.abs(read.values[holes] - truth[holes]) < 0.05) > 0.97
    np.testing.assert_array_equal(read.values[~holes], truth[~holes])


def test_nan_in_a_shifted_map_is_filled_and_the_map_shifted(tmp_path: Path) -> None:
    truth = true_disparity()
    broken = truth * 2.0 - 0.5
    holes = np.random.default_rng(4).random(truth.shape) < 0.05
    broken[holes] = np.nan
    np.save(tmp_path / "both.npy", broken)
    read = read_depth_file(tmp_path / "both.npy", "DISPARITY")
    assert any("shifted" in w for w in read.warnings)
    assert any(f"filled {holes.sum()} non-finite" in w for w in read.warnings)
    np.testing.assert_allclose(read.values[~holes], truth[~holes] * 2.0, rtol=1e-3, atol=1e-4)


def test_isolated_zeros_and_sentinel_holes_are_filled_not_shifted(tmp_path: Path) -> None:
    truth = true_disparity() + 0.5
    dropouts = truth.copy()
    dropouts[5, 5] = dropouts[30, 61] = 0.0
    np.save(tmp_path / "zeros.npy", dropouts)
    read = read_depth_file(tmp_path / "zeros.npy", "DISPARITY")
    assert read.values[5, 5] > 0.4 and read.values[30, 61] > 0.4
    assert "filled 2 " in read.warnings[0]
    # A block of -1 (a sensor's "no data") is invalid, not a shifted distance.
    sentinel = truth.copy()
    sentinel[10:30, 10:40] = -1.0
    np.save(tmp_path / "hole.npy", sentinel)
    read = read_depth_file(tmp_path / "hole.npy", "DISPARITY")
    assert not any("shifted" in w for w in read.warnings)
    assert read.values.min() >= truth.min() - 1e-6
    # Scattered random negative values are invalid pixels too.
    noisy = truth.copy()
    spots = np.random.default_rng(5).random(truth.shape) < 0.05
    noisy[spots] = -np.random.default_rng(6).random(int(spots.sum())).astype(np.float32)
    np.save(tmp_path / "noisy.npy", noisy)
    read = read_depth_file(tmp_path / "noisy.npy", "DISPARITY")
    assert not any("shifted" in w for w in read.warnings)
    assert f"filled {spots.sum()} " in read.warnings[0]


def test_wrong_kind_is_still_named(tmp_path: Path) -> None:
    # A shifted disparity declared as depth is the wrong kind: the hint fires.
    np.save(tmp_path / "d.npy", true_disparity() * 2.0 - 1.5)
    with pytest.raises(DepthFileError, match=r"depth_kind \(DEPTH\)"):
        read_depth_file(tmp_path / "d.npy", "DEPTH")


def test_transposed_map_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "t.npy", true_disparity(80, 60))  # portrait map, landscape photo
    with pytest.raises(DepthFileError, match=r"60x80.*80x60.*transposed"):
        read_depth_file(tmp_path / "t.npy", "DISPARITY", size=(80, 60))
    # The same map for a portrait photo fits.
    assert read_depth_file(tmp_path / "t.npy", "DISPARITY", size=(120, 160)).warnings == []


def test_other_aspect_ratio_is_named(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", true_disparity(60, 90) + 0.5)  # 3:2 map, 4:3 photo
    read = read_depth_file(tmp_path / "a.npy", "DISPARITY", size=(80, 60))
    assert read.values.shape == (60, 80)
    assert len(read.warnings) == 1
    assert "90x60" in read.warnings[0] and "80x60" in read.warnings[0]
    assert "stretched" in read.warnings[0]
    # Within 1 %: network outputs at their own size pass without a word.
    np.save(tmp_path / "b.npy", true_disparity(60, 80) + 0.5)
    assert read_depth_file(tmp_path / "b.npy", "DISPARITY", size=(401, 300)).warnings == []


def test_colour_mapped_png_is_refused(tmp_path: Path) -> None:
    grey = (true_disparity() * 255).astype(np.uint8)
    coloured = cv2.applyColorMap(grey, cv2.COLORMAP_TURBO)
    cv2.imwrite(str(tmp_path / "turbo.png"), coloured)
    with pytest.raises(DepthFileError, match="turbo.png.*channels.*not equal"):
        read_depth_file(tmp_path / "turbo.png", "DISPARITY")
    # Grey stored as colour with JPEG-like noise of one level is accepted.
    noisy = np.dstack([grey, grey, grey]).astype(np.int16)
    noisy[..., 1] += 1
    cv2.imwrite(str(tmp_path / "grey.png"), np.clip(noisy, 0, 255).astype(np.uint8))
    assert read_depth_file(tmp_path / "grey.png", "DISPARITY").values.shape == grey.shape
