"""Silhouette skirts: half-pixel strips that carry every foreground outline from its last
pixel centre out to the pixel border, where the outline really is, so the original view shows
no grown background along outlines."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..io.intrinsics import Intrinsics, unproject
from ..ldi.layers import LDI, D, R
from . import atlas as atlas_mod


def silhouette_skirts(
    ldi: LDI,
    z_of_disp: Callable[[np.ndarray], np.ndarray],
    intrinsics: Intrinsics,
    lay: atlas_mod.AtlasLayout,
    base: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Half-pixel strips that extend the photo's foreground up to its true silhouette.

    Lattice vertices sit at pixel centres, but a foreground object's outline lies on the pixel
    border: without this, the half pixel between the last foreground centre and the cut shows
    the grown background (inpainted colour) even in the original view. Each strip joins two
    neighbouring foreground edge samples to copies moved half a pixel toward the background,
    at the foreground's depth and with the edge pixel's own colour."""
    h, w = ldi.shape
    m = ldi.margin
    d0 = ldi.disp[0]
    v0 = ldi.valid[0]
    verts, uvs, tris = [], [], []
    n = base
    # (direction name, q offset from p, strip runs along axis) for the four cut orientations.
    # A layer-0 pair is cut when it is not linked layer 0 to layer 0 (the background side may
    # link to a grown sample across the cut instead).
    for axis in ("x", "y"):
        if axis == "x":
            cut = (ldi.links[0, R, :, :-1] != 0) & v0[:, :-1] & v0[:, 1:]
            a, b = d0[:, :-1], d0[:, 1:]
        else:
            cut = (ldi.links[0, D, :-1, :] != 0) & v0[:-1, :] & v0[1:, :]
            a, b = d0[:-1, :], d0[1:, :]
        for fg_second in (True, False):
            fg = cut & ((b > a) if fg_second else (a > b))
            # Consecutive edge samples along the edge (the other axis), linked in layer 0.
            if axis == "x":
                pair = fg[:-1, :] & fg[1:, :]
                py, px = np.nonzero(pair)
                qx = px + (1 if fg_second else 0)
                q1 = (py, qx)
                q2 = (py + 1, qx)
                linked = ldi.links[0, D, py, qx] == 0
                shift = (-0.5 if fg_second else 0.5, 0.0)
            else:
                pair = fg[:, :-1] & fg[:, 1:]
                py, px = np.nonzero(pair)
                qy = py + (1 if fg_second else 0)
                q1 = (qy, px)
                q2 = (qy, px + 1)
                linked = ldi.links[0, R, qy, px] == 0
                shift = (0.0, -0.5 if fg_second else 0.5)
            if not linked.any():
                continue
            q1 = (q1[0][linked], q1[1][linked])
            q2 = (q2[0][linked], q2[1][linked])
            k = q1[0].size
            ys = np.concatenate([q1[0], q2[0], q2[0], q1[0]]).astype(np.float32)
            xs = np.concatenate([q1[1], q2[1], q2[1], q1[1]]).astype(np.float32)
            src_y = ys.astype(np.intp)
            src_x = xs.astype(np.intp)
            img_x = xs + np.float32(0.5 - m)
            img_y = ys + np.float32(0.5 - m)
            img_x[2 * k :] += np.float32(shift[0])
            img_y[2 * k :] += np.float32(shift[1])
            d = d0[src_y, src_x]
            d[2 * k :] = _extrapolate_out(ldi, axis, fg_second, src_y[2 * k :], src_x[2 * k :])
            z = z_of_disp(d).astype(np.float32)
            verts.append(unproject(img_x, img_y, z, intrinsics))
            uvs.append(atlas_mod.photo_uv(lay, src_y, src_x))
            i = np.arange(k, dtype=np.int64) + n
            quad = np.stack([i, i + k, i + 2 * k, i + 3 * k], axis=1)
            t = np.concatenate([quad[:, [0, 1, 2]], quad[:, [0, 2, 3]]])
            tris.append(t)
            n += 4 * k
    if not verts:
        return None
    vertices = np.concatenate(verts)
    triangles = np.concatenate(tris)
    # Orientation: make every strip face the camera.
    e1 = vertices[triangles[:, 1] - base] - vertices[triangles[:, 0] - base]
    e2 = vertices[triangles[:, 2] - base] - vertices[triangles[:, 0] - base]
    facing = np.einsum("ij,ij->i", np.cross(e1, e2), -vertices[triangles[:, 0] - base]) < 0
    triangles[facing] = triangles[facing][:, [0, 2, 1]]
    return vertices, np.concatenate(uvs), triangles.astype(np.int32)


def _extrapolate_out(
    ldi: LDI, axis: str, fg_second: bool, ys: np.ndarray, xs: np.ndarray
) -> np.ndarray:
    """Disparity half a pixel outward from foreground edge samples (ys, xs), continuing the
    foreground's own slope from the sample inward of it (when linked): the outline of a face
    seen at a grazing angle (a box top) lies noticeably further back than its first pixel
    centre. The step is bounded by a quarter of the cut threshold, so it never reaches the
    background (which is more than a threshold away)."""
    h, w = ldi.shape
    d0 = ldi.disp[0]
    d = d0[ys, xs]
    step = 1 if fg_second else -1  # from the edge sample inward, away from the background
    iy, ix = (
        (ys, np.clip(xs + step, 0, w - 1)) if axis == "x" else (np.clip(ys + step, 0, h - 1), xs)
    )
    direction = R if axis == "x" else D
    # Linked inward: for fg_second the inward neighbour is the next one (link from the sample);
    # otherwise it is the previous one (its link toward the sample).
    ly, lx = (ys, xs) if fg_second else (iy, ix)
    linked = ldi.links[0, direction, ly, lx] == 0
    bound = np.float32(0.25 * ldi.threshold)
    delta = np.clip(np.float32(0.5) * (d - d0[iy, ix]), -bound, bound)
    return np.where(linked, d + delta, d).astype(np.float32)
