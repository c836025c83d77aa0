"""Triangle pairs -> quads for compact storage, without changing what is rendered.

A quad (a, b, c, d) is stored with 4 corners and 1 face instead of 6 corners, 2 faces and a
diagonal edge; a 3D photo's mesh is mostly such pairs, so a saved .blend shrinks by about a
third. Blender splits a quad into (a, b, c) and (a, c, d) - along the 0-2 diagonal - unless b
and d lie on the same side of it (``is_quad_flip_v3_first_third_fast`` in Blender's mesh
tessellation), so only pairs that are clearly not folded are merged: the renderer then sees
exactly the pipeline's triangles, with the same corners and UVs.
"""

from __future__ import annotations

import numpy as np

from ..runtime.parallel import thread_map

# Merge only when the two triangles' normals agree this clearly (cosine of the fold,
# negated as in Blender's test); near-degenerate pairs stay triangles.
_FOLD_MARGIN = 1e-3


def pair_triangles(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(quads (Q, 4), triangles (S, 3))``: pairs of triangles that share their
    longest edge, with opposite directions (consistent orientation), become one quad whose
    0-2 diagonal is that edge; the rest stay triangles. Vertex indices are unchanged.

    The work runs in threads (numpy releases the GIL): chunks of triangles for the edge
    lengths and the fold test, and the two halves of the edge keys (pairs share their key, so
    each half is matched on its own) for the sort. The result does not depend on the number
    of threads."""
    # int32 throughout (only the edge keys need 64 bits): in Blender's process every
    # temporary is fresh memory, whose page faults made a first call about twice as slow as
    # a repeated one.
    tris = np.asarray(triangles, np.int32).reshape(-1, 3)
    n = tris.shape[0]
    if n < 2:
        return np.zeros((0, 4), np.int32), tris
    v = np.asarray(vertices, np.float32).reshape(-1, 3)
    bounds = _chunks(n)
    parts = thread_map(lambda r: _longest_edge(v, tris[r[0] : r[1]]), bounds)
    k = np.concatenate([p[0] for p in parts])
    start = np.concatenate([p[1] for p in parts])
    end = np.concatenate([p[2] for p in parts])
    low, high = np.minimum(start, end), np.maximum(start, end)
    key = low.astype(np.int64) * v.shape[0] + high
    halves = thread_map(lambda h: _shared_edges(key, start, end, low & 1 == h), (0, 1))
    t1 = np.concatenate([h[0] for h in halves])
    t2 = np.concatenate([h[1] for h in halves])
    k1, k2 = k[t1], k[t2]
    a = tris[t1, (k1 + 1) % 3]
    b = tris[t1, (k1 + 2) % 3]
    c = tris[t1, k1]
    d = tris[t2, (k2 + 2) % 3]
    quad = np.stack([a, b, c, d], axis=1)
    ok = np.concatenate(
        thread_map(lambda r: _unfolded(v, quad[r[0] : r[1]]), _chunks(quad.shape[0]))
    )
    used = np.zeros(n, bool)
    used[t1[ok]] = True
    used[t2[ok]] = True
    return quad[ok], tris[~used]


def _chunks(n: int, parts: int = 2) -> list[tuple[int, int]]:
    edges = np.linspace(0, n, parts + 1).astype(int)
    return [(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:], strict=True)]


def _longest_edge(v: np.ndarray, tris: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(k, start, end) per triangle: its longest edge runs from corner k to corner k+1 (a grid
    cell's or a fan block's diagonal is the longest edge of both of its triangles); the first
    such corner on ties, as argmax picks it."""
    corner = [np.ascontiguousarray(tris[:, i]) for i in range(3)]
    length = [np.zeros(tris.shape[0], np.float32) for _ in range(3)]
    # One coordinate at a time: 1-D gathers are several times faster than rows of (N, 3), and
    # comparisons faster than argmax over three values.
    for axis in range(3):
        coord = np.ascontiguousarray(v[:, axis])
        p = [coord[c] for c in corner]
        for i in range(3):
            e = p[(i + 1) % 3] - p[i]
            e *= e
            length[i] += e
    first = (length[0] >= length[1]) & (length[0] >= length[2])
    second = ~first & (length[1] >= length[2])
    k = np.where(first, np.int8(0), np.where(second, np.int8(1), np.int8(2)))
    start = np.where(first, corner[0], np.where(second, corner[1], corner[2]))
    end = np.where(first, corner[1], np.where(second, corner[2], corner[0]))
    return k, start, end


def _shared_edges(
    key: np.ndarray, start: np.ndarray, end: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (t1, t2) among the triangles in ``mask`` whose longest edge is the same and
    shared by exactly these two, in opposite directions (consistent orientation)."""
    idx = np.flatnonzero(mask)
    order = idx[np.argsort(key[idx], kind="stable")]
    sk = key[order]
    same = sk[1:] == sk[:-1]
    # Runs of exactly two: a longest edge shared by three triangles is not a quad diagonal.
    before = np.concatenate([[False], same[:-1]])
    after = np.concatenate([same[1:], [False]])
    cand = np.flatnonzero(same & ~before & ~after)
    t1, t2 = order[cand], order[cand + 1]
    opposite = (start[t1] == end[t2]) & (end[t1] == start[t2])
    return t1[opposite], t2[opposite]


def _unfolded(v: np.ndarray, quad: np.ndarray) -> np.ndarray:
    """Blender's flip test, in float32 as Blender computes it: a quad (a, b, c, d) is split
    along 1-3 when cross(b - a, c - a) . cross(d - a, c - a) > 0. True for quads clearly on
    the 0-2 side."""
    pa, pb, pc, pd = (np.take(v, quad[:, i], axis=0) for i in range(4))
    diag = pc - pa
    cross_a = _cross(pb - pa, diag)
    cross_b = _cross(pd - pa, diag)
    dot = np.einsum("qi,qi->q", cross_a, cross_b)
    norms = np.sqrt(
        np.einsum("qi,qi->q", cross_a, cross_a) * np.einsum("qi,qi->q", cross_b, cross_b)
    )
    return dot < -_FOLD_MARGIN * norms


def _cross(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Row-wise cross product (np.cross is several times slower on (N, 3) float32)."""
    out = np.empty_like(p)
    out[:, 0] = p[:, 1] * q[:, 2] - p[:, 2] * q[:, 1]
    out[:, 1] = p[:, 2] * q[:, 0] - p[:, 0] * q[:, 2]
    out[:, 2] = p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0]
    return out


def quad_triangles(quads: np.ndarray) -> np.ndarray:
    """The triangles a renderer makes of ``quads`` (the 0-2 split): (2Q, 3)."""
    q = np.asarray(quads).reshape(-1, 4)
    return np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])


def face_flags(triangle_flags: np.ndarray, n_quads: int) -> np.ndarray:
    """Per Blender face (``n_quads`` quads, then the single triangles), whether any of its
    triangles is flagged, from flags over ``[quad_triangles(quads), singles]``: quad i's two
    triangles are rows i and n_quads + i."""
    f = np.asarray(triangle_flags, bool)
    return np.concatenate([f[:n_quads] | f[n_quads : 2 * n_quads], f[2 * n_quads :]])
