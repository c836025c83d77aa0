"""Silhouette skirts: strips that carry every foreground outline from its last pixel centre
out to where the outline really is - the pixel border, or inside the background's first pixel
as far as that pixel's colour is the foreground's - so the original view shows no grown
background along outlines, and moved views draw each outline where the photo puts it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

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
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Unmixed] | None:
    """Strips that extend the photo's foreground up to its true silhouette.

    Lattice vertices sit at pixel centres, but a foreground object's outline lies at least on
    the pixel border: without this, the half pixel between the last foreground centre and the
    cut shows the grown background (inpainted colour) even in the original view. Each strip
    joins two neighbouring foreground edge samples to copies moved toward the background, at
    the foreground's depth and with the edge pixel's own colour: half a pixel, plus the share
    of the foreground's colour in the background's first pixel (``outline_coverage``). An
    outline rarely falls on a pixel border; the pixel it crosses mixes both sides' colours
    (antialiasing, the lens), and its depth sample falls on one side only. Stopping at the
    border draws every outline up to a pixel off, and where the background's grown layer is
    inpainted from clean context (``inpaint``), the foreground's share of that pixel is lost:
    a line of background colour along each outline in every view."""
    h, w = ldi.shape
    m = ldi.margin
    d0 = ldi.disp[0]
    v0 = ldi.valid[0]
    verts, uvs, tris = [], [], []
    unmixed: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
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
            out_y, out_x = src_y[2 * k :], src_x[2 * k :]
            dy, dx = int(np.sign(shift[1])), int(np.sign(shift[0]))
            share, colour = outline_coverage(ldi, out_y, out_x, dy, dx)
            unmixed.append((out_y + dy, out_x + dx, share, colour))
            reach = np.float32(0.5) + share
            img_x[2 * k :] += np.float32(dx) * reach
            img_y[2 * k :] += np.float32(dy) * reach
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
    uy, ux, us, uc = (np.concatenate(parts) for parts in zip(*unmixed, strict=True))
    # A pixel next to two edge samples (a corner, two strips) keeps the larger share taken
    # out: one entry per pixel, the largest share's (numpy leaves the order of repeated
    # fancy-index writes unspecified).
    order = np.argsort(-us, kind="stable")
    _, first = np.unique(uy[order].astype(np.int64) * w + ux[order], return_index=True)
    pick = order[first]
    pick = pick[us[pick] > 0]
    out = Unmixed(uy[pick], ux[pick], uc[pick])
    triangles = np.concatenate(tris)
    # Orientation: make every strip face the camera.
    e1 = vertices[triangles[:, 1] - base] - vertices[triangles[:, 0] - base]
    e2 = vertices[triangles[:, 2] - base] - vertices[triangles[:, 0] - base]
    facing = np.einsum("ij,ij->i", np.cross(e1, e2), -vertices[triangles[:, 0] - base]) < 0
    triangles[facing] = triangles[facing][:, [0, 2, 1]]
    return vertices, np.concatenate(uvs), triangles.astype(np.int32), out


@dataclass
class Unmixed:
    """The photo's colour at background pixels whose foreground share a skirt now draws:
    (ys, xs) lattice positions and their colours with that share taken out."""

    ys: np.ndarray
    xs: np.ndarray
    colours: np.ndarray

    def apply(self, photo: np.ndarray) -> np.ndarray:
        """A copy of ``photo`` (layer 0's colour) with these pixels unmixed."""
        if self.ys.size == 0:
            return photo
        out = photo.copy()
        out[self.ys, self.xs] = self.colours
        return out


# The farthest a strip reaches into the background's first pixel (its centre is at 1 px): it
# stays short of that pixel's own sample, where the background's surface and its link to the
# grown layer start.
MAX_COVERAGE = 0.45


def outline_coverage(
    ldi: LDI, ys: np.ndarray, xs: np.ndarray, dy: int, dx: int
) -> tuple[np.ndarray, np.ndarray]:
    """How far (in px, 0..``MAX_COVERAGE``) the outline of each foreground edge sample (ys, xs)
    of layer 0 lies inside its background neighbour (ys + dy, xs + dx): that pixel's share of
    the foreground's colour, its colour projected on the line from the clean background one
    pixel further out to the edge sample's own colour. 0 where there is no clean background
    pixel beyond it (the lattice's end, a second step) or no colour difference to measure.

    Also returns that neighbour's colour with the share of the foreground taken out
    (``mixed - share * (fg - bg)``, in the photo's dtype). The skirt draws that share in the
    foreground's colour: left in the pixel too, the background would carry it to wherever a
    moved camera shows it, a line of the outline's colour in the revealed background."""
    h, w = ldi.shape
    d0 = ldi.disp[0]
    y1, x1 = ys + dy, xs + dx
    y2, x2 = ys + 2 * dy, xs + 2 * dx
    ok = (y2 >= 0) & (y2 < h) & (x2 >= 0) & (x2 < w)
    y1, x1, y2, x2 = (np.clip(v, 0, n - 1) for v, n in ((y1, h), (x1, w), (y2, h), (x2, w)))
    # Both background pixels on one surface (the one beyond is not another object's edge).
    ok &= ldi.valid[0, y1, x1] & ldi.valid[0, y2, x2]
    ok &= np.abs(d0[y2, x2] - d0[y1, x1]) <= np.float32(ldi.threshold)
    colour = ldi.color[0]
    fg = colour[ys, xs].astype(np.float32)
    bg = colour[y2, x2].astype(np.float32)
    mixed = colour[y1, x1].astype(np.float32)
    span = fg - bg
    norm = (span * span).sum(axis=1)
    ok &= norm > 0.0
    share = ((mixed - bg) * span).sum(axis=1) / np.where(ok, norm, np.float32(1.0))
    share = np.where(ok, np.clip(share, 0.0, MAX_COVERAGE), 0.0).astype(np.float32)
    unmixed = mixed - share[:, None] * span
    if np.issubdtype(colour.dtype, np.integer):
        top = np.iinfo(colour.dtype).max
        unmixed = np.clip(np.rint(unmixed), 0, top)
    return share, unmixed.astype(colour.dtype)


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
