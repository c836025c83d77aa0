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

# Merge only when the two triangles' normals agree this clearly (cosine of the fold,
# negated as in Blender's test); near-degenerate pairs stay triangles.
_FOLD_MARGIN = 1e-3


def pair_triangles(vertices: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(quads (Q, 4), triangles (S, 3))``: pairs of triangles that share their
    longest edge, with opposite directions (consistent orientation), become one quad whose
    0-2 diagonal is that edge; the rest stay triangles. Vertex indices are unchanged."""
    tris = np.asarray(triangles, np.int64).reshape(-1, 3)
    n = tris.shape[0]
    if n < 2:
        return np.zeros((0, 4), np.int32), tris.astype(np.int32)
    v = np.asarray(vertices, np.float32).reshape(-1, 3)
    nxt = np.roll(tris, -1, axis=1)
    # Edge k of a triangle runs from corner k to corner k+1; the pair's diagonal is the
    # longest edge of both (a grid cell's or a fan block's diagonal).
    corner = [v[tris[:, i]] for i in range(3)]
    length = np.empty((n, 3), np.float32)
    for i in range(3):
        edge = corner[(i + 1) % 3] - corner[i]
        length[:, i] = (edge * edge).sum(axis=1)
    k = np.argmax(length, axis=1)
    rows = np.arange(n)
    start, end = tris[rows, k], nxt[rows, k]
    key = np.minimum(start, end) * np.int64(v.shape[0]) + np.maximum(start, end)
    order = np.argsort(key)
    sk = key[order]
    same = sk[1:] == sk[:-1]
    # Runs of exactly two: a longest edge shared by three triangles is not a quad diagonal.
    before = np.concatenate([[False], same[:-1]])
    after = np.concatenate([same[1:], [False]])
    cand = np.flatnonzero(same & ~before & ~after)
    t1, t2 = order[cand], order[cand + 1]
    opposite = (start[t1] == end[t2]) & (end[t1] == start[t2])
    t1, t2 = t1[opposite], t2[opposite]
    k1, k2 = k[t1], k[t2]
    a = tris[t1, (k1 + 1) % 3]
    b = tris[t1, (k1 + 2) % 3]
    c = tris[t1, k1]
    d = tris[t2, (k2 + 2) % 3]
    # Blender's flip test, in float32 as Blender computes it: split along 1-3 when
    # cross(b - a, c - a) . cross(d - a, c - a) > 0. Keep only pairs clearly on the 0-2 side.
    d13 = v[c] - v[a]
    cross_a = np.cross(v[b] - v[a], d13)
    cross_b = np.cross(v[d] - v[a], d13)
    dot = np.einsum("qi,qi->q", cross_a, cross_b)
    norms = np.linalg.norm(cross_a, axis=1) * np.linalg.norm(cross_b, axis=1)
    ok = dot < -_FOLD_MARGIN * norms
    quads = np.stack([a[ok], b[ok], c[ok], d[ok]], axis=1).astype(np.int32)
    used = np.zeros(n, bool)
    used[t1[ok]] = True
    used[t2[ok]] = True
    return quads, tris[~used].astype(np.int32)


def quad_triangles(quads: np.ndarray) -> np.ndarray:
    """The triangles a renderer makes of ``quads`` (the 0-2 split): (2Q, 3)."""
    q = np.asarray(quads).reshape(-1, 4)
    return np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
