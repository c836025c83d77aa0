"""Single-layer mesh invariants, including property-based tests over random depth maps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.depth.disparity import discontinuities, normalise
from pipeline.io.intrinsics import Intrinsics
from pipeline.mesh.baselines import grid_mesh
from pipeline.mesh.mesh_data import MeshData


def check_invariants(depth: np.ndarray, threshold: float | None) -> None:
    h, w = depth.shape
    intr = Intrinsics.from_fov(w, h, 53.13)
    disp = normalise(1.0 / depth)
    v, t, uv = grid_mesh(disp, depth, intr, threshold)
    assert v.shape == (h * w, 3) and uv.shape == (h * w, 2)
    assert t.dtype == np.int32 and t.shape[1] == 3
    if t.size:
        assert t.min() >= 0 and t.max() < h * w
    assert uv.min() >= 0.0 and uv.max() <= 1.0
    np.testing.assert_allclose(-v[:, 2], depth.ravel(), rtol=1e-6)
    # Counter-clockwise as seen from the camera (positive area in image x-right/y-up space).
    p = v[:, :2] / -v[:, 2:3]
    a, b, c = p[t[:, 0]], p[t[:, 1]], p[t[:, 2]]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    assert (area > 0).all()
    # Each vertex projects back to its own pixel's UV (the camera reproduces the photo).
    proj_u = p[:, 0] * intr.fx / w + intr.cx / w
    np.testing.assert_allclose(proj_u, uv[:, 0], atol=1e-4)
    if threshold is None:
        assert len(t) == 2 * (h - 1) * (w - 1)
    else:
        d = disp.ravel()[t]
        assert (d.max(axis=1) - d.min(axis=1) <= threshold + 1e-6).all()
        right, down = discontinuities(disp, threshold)
        if not right.any() and not down.any():
            # Diagonals may still differ by more than the threshold; with no 4-neighbour
            # cut at all, at most those quads lose triangles.
            assert len(t) >= (h - 1) * (w - 1)


def test_flat_plane_is_complete() -> None:
    check_invariants(np.full((6, 8), 3.0, np.float32), 0.04)


def test_step_edge_is_torn() -> None:
    depth = np.full((10, 12), 10.0, np.float32)
    depth[:, 6:] = 2.0
    h, w = depth.shape
    v, t, uv = grid_mesh(normalise(1 / depth), depth, Intrinsics.from_fov(w, h, 50), 0.04)
    cols = t % w
    # No triangle has vertices on both sides of the edge between columns 5 and 6.
    spans = (cols.min(axis=1) <= 5) & (cols.max(axis=1) >= 6)
    assert not spans.any()
    assert len(t) == 2 * (h - 1) * (w - 2)
    # The rubber sheet bridges it.
    _, t_rubber, _ = grid_mesh(normalise(1 / depth), depth, Intrinsics.from_fov(w, h, 50), None)
    assert len(t_rubber) == 2 * (h - 1) * (w - 1)


def test_transparent_pixels_drop_triangles() -> None:
    depth = np.full((5, 5), 2.0, np.float32)
    valid = np.ones((5, 5), bool)
    valid[2, 2] = False
    _, t, _ = grid_mesh(normalise(1 / depth), depth, Intrinsics.from_fov(5, 5, 50), 0.04, valid)
    assert 12 not in t  # vertex of pixel (2, 2)
    assert len(t) == 32 - 6


def test_border_vertices_reach_the_frame() -> None:
    depth = np.full((4, 6), 1.0, np.float32)
    intr = Intrinsics.from_fov(6, 4, 60)
    v, _, uv = grid_mesh(normalise(1 / depth), depth, intr, 0.04)
    assert uv[:, 0].min() == 0.0 and uv[:, 0].max() == 1.0
    assert uv[:, 1].min() == 0.0 and uv[:, 1].max() == 1.0
    half_width = np.tan(np.radians(30))
    assert np.isclose(v[:, 0].max(), half_width, rtol=1e-5)


depth_maps = arrays(
    np.float32,
    st.tuples(st.integers(2, 12), st.integers(2, 12)),
    elements=st.floats(0.125, 100.0, width=32),
)


@settings(max_examples=60, deadline=None)
@given(depth_maps, st.one_of(st.none(), st.floats(0.001, 1.0)))
def test_random_depth_maps(depth: np.ndarray, threshold: float | None) -> None:
    check_invariants(depth, threshold)


def test_the_hand_over_file_gives_back_every_array_and_field(tmp_path):
    """MeshData.save / load (the worker's result file): arrays bit for bit with their dtypes,
    warnings, intrinsics and the safe moves, a direction without an estimate left out."""
    rng = np.random.default_rng(3)
    mesh = MeshData(
        vertices=rng.normal(size=(7, 3)).astype(np.float32),
        triangles=np.array([[0, 1, 2], [2, 1, 3], [4, 5, 6]], np.int32),
        uvs=rng.random((7, 2)).astype(np.float32),
        texture=rng.integers(0, 65535, (5, 6, 3)).astype(np.uint16),
        intrinsics=Intrinsics(6, 5, 7.5, 3.0, 2.5),
        attributes={"layer": np.arange(7, dtype=np.int32), "inpainted": np.ones(7, np.int8)},
        warnings=["Depth map is flat", "ünïcode"],
        safe_motion={"right": 0.25, "up": 0.5},
    )
    path = tmp_path / "result.mesh"
    with open(path, "wb") as f:
        mesh.save(f)
    back = MeshData.load(path).check()
    for name in ("vertices", "triangles", "uvs", "texture"):
        a, b = getattr(mesh, name), getattr(back, name)
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert back.attributes.keys() == mesh.attributes.keys()
    for name, values in mesh.attributes.items():
        assert back.attributes[name].dtype == values.dtype
        assert np.array_equal(back.attributes[name], values)
    assert back.intrinsics == mesh.intrinsics
    assert back.warnings == mesh.warnings
    assert back.safe_motion == mesh.safe_motion


def test_a_truncated_hand_over_file_is_an_error_not_a_mesh(tmp_path):
    mesh = MeshData(
        vertices=np.zeros((3, 3), np.float32),
        triangles=np.array([[0, 1, 2]], np.int32),
        uvs=np.zeros((3, 2), np.float32),
        texture=np.zeros((2, 2, 3), np.uint8),
        intrinsics=Intrinsics(2, 2, 2.0, 1.0, 1.0),
    )
    path = tmp_path / "result.mesh"
    with open(path, "wb") as f:
        mesh.save(f)
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError):
        MeshData.load(path)
