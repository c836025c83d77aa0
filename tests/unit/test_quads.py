"""Triangle pairs stored as quads render as the very same triangles."""

from __future__ import annotations

import numpy as np

from pipeline.build import build_mesh
from pipeline.io.depth_file import DepthMap
from pipeline.io.image_io import Photo
from pipeline.mesh.quads import face_flags, pair_triangles, quad_triangles
from pipeline.settings import PipelineSettings


def canonical(tris: np.ndarray) -> set[tuple[int, int, int]]:
    """Triangles up to rotation of their corners (orientation kept)."""
    out = set()
    for t in np.asarray(tris).reshape(-1, 3).tolist():
        i = t.index(min(t))
        out.add(tuple(t[i:] + t[:i]))
    return out


def test_grid_pairs_become_quads_with_the_same_triangles() -> None:
    h, w = 30, 40
    y, x = np.mgrid[0:h, 0:w]
    depth = np.full((h, w), 5.0, np.float32)
    depth[8:22, 10:30] = 2.0
    rgb = np.dstack([(x * 5) % 256, (y * 7) % 256, np.full_like(x, 80)]).astype(np.uint8)
    settings = PipelineSettings(depth_kind="DEPTH", median_size=0, min_edge_length=0)
    mesh = build_mesh(Photo("p.png", rgb, None, None, 1), DepthMap("DEPTH", depth), settings)
    quads, singles = pair_triangles(mesh.vertices, mesh.triangles)
    assert 2 * len(quads) + len(singles) == len(mesh.triangles)
    assert len(quads) > 0.3 * len(mesh.triangles)  # most triangles pair up
    rendered = np.concatenate([quad_triangles(quads), singles])
    assert canonical(rendered) == canonical(mesh.triangles)
    assert len(canonical(rendered)) == len(mesh.triangles)


def test_folded_or_inconsistent_pairs_stay_triangles() -> None:
    v = np.array([(0, 0, 0), (2, 0, 0), (2, 2, 0), (0, 2, 0), (1.8, 0.2, 0)], np.float32)
    # A square split along 0-2: one quad.
    quads, singles = pair_triangles(v, np.array([(0, 1, 2), (0, 2, 3)]))
    assert quads.shape == (1, 4) and singles.shape == (0, 3)
    assert canonical(quad_triangles(quads)) == canonical(np.array([(0, 1, 2), (0, 2, 3)]))
    # A dart (both triangles on one side of the diagonal: Blender would split it 1-3).
    quads, singles = pair_triangles(v, np.array([(0, 1, 2), (0, 2, 4)]))
    assert quads.shape == (0, 4) and singles.shape == (2, 3)
    # Same edge direction in both (inconsistent orientation): not merged.
    quads, singles = pair_triangles(v, np.array([(0, 1, 2), (0, 3, 2)]))
    assert quads.shape == (0, 4) and singles.shape == (2, 3)


def test_face_flags_follow_each_quads_own_triangles() -> None:
    """A flag on one rendered triangle marks the quad it belongs to, and no other face."""
    quads = np.array([(0, 1, 2, 3), (4, 5, 6, 7), (8, 9, 10, 11)])
    singles = np.array([(12, 13, 14)])
    rendered = np.concatenate([quad_triangles(quads), singles])
    for t in range(rendered.shape[0]):
        flags = np.zeros(rendered.shape[0], bool)
        flags[t] = True
        faces = face_flags(flags, quads.shape[0])
        owner = [i for i, q in enumerate(quads) if set(rendered[t]) <= set(q)]
        expected = owner[0] if owner else quads.shape[0] + (t - 2 * quads.shape[0])
        assert faces.nonzero()[0].tolist() == [expected]
