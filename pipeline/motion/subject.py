"""Reading the scene a photo shows, for choosing and limiting moves: a small nearest-
disparity image of the mesh (:func:`splat_disparity`), the subject's distance
(:func:`subject_depth`, the focus depth) and how far a dolly zoom can pull back before it
sees past the scene (:func:`dolly_zoom_limit`, issue 15)."""

from __future__ import annotations

import math

import numpy as np

# Subject search: pixels are weighted by a Gaussian around the image centre (sigma = this
# fraction of each side), and the subject is the nearest disparity level holding at least
# SUBJECT_MIN_SHARE of that weight (a level = disparities within SUBJECT_BAND of each other).
SUBJECT_SIGMA = 0.3
SUBJECT_MIN_SHARE = 0.12
SUBJECT_BAND = 0.08
# The dolly zoom's limit looks at the outermost scene point in this many bins along each side.
BORDER_BINS = 48


def splat_disparity(
    points: np.ndarray, width: int, height: int, tan_half: float, grid: int = 96
) -> np.ndarray:
    """Camera-space points (P, 3; the rest camera at the origin looking down -Z) -> a small
    image of the nearest disparity (1 / distance) per cell, 0 where nothing lands. ``tan_half``
    is the tangent of half the field of view across the longer side."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    pts = pts[pts[:, 2] < 0]
    gw = grid if width >= height else max(2, round(grid * width / height))
    gh = grid if height > width else max(2, round(grid * height / width))
    disp = np.zeros((gh, gw), np.float64)
    if len(pts) == 0:
        return disp
    f = 0.5 * max(gw, gh) / tan_half
    depth = -pts[:, 2]
    u = np.floor(gw / 2.0 + f * pts[:, 0] / depth).astype(np.int64)
    v = np.floor(gh / 2.0 - f * pts[:, 1] / depth).astype(np.int64)
    ok = (u >= 0) & (u < gw) & (v >= 0) & (v < gh)
    np.maximum.at(disp, (v[ok], u[ok]), 1.0 / depth[ok])
    return disp


def subject_depth(disparity: np.ndarray) -> float | None:
    """Distance of the subject: the nearest disparity level that holds a large share of the
    centre-weighted image (a portrait's person, not the wall behind it, nor a sliver of floor
    at the bottom edge). ``disparity`` is 1 / distance (0 = empty). None if it is empty."""
    d = np.nan_to_num(np.asarray(disparity, np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    h, w = d.shape
    gy = np.exp(-0.5 * (((np.arange(h) + 0.5) / h - 0.5) / SUBJECT_SIGMA) ** 2)
    gx = np.exp(-0.5 * (((np.arange(w) + 0.5) / w - 0.5) / SUBJECT_SIGMA) ** 2)
    weight = (gy[:, None] * gx[None, :])[d > 0]
    values = d[d > 0]
    if values.size == 0:
        return None
    # Levels in log-disparity, so "within 8 %" means the same near and far.
    logd = np.log(values)
    order = np.argsort(-logd)  # nearest first
    logd, weight = logd[order], weight[order]
    cum = np.concatenate([[0.0], np.cumsum(weight)])
    # Weight of the band [logd_i - band, logd_i] for every pixel i taken as the band's top.
    ends = np.searchsorted(-logd, -(logd - SUBJECT_BAND), side="right")
    share = (cum[ends] - cum[np.arange(len(logd))]) / cum[-1]
    big = np.flatnonzero(share >= SUBJECT_MIN_SHARE)
    i = int(big[0]) if big.size else int(np.argmax(share))
    band = slice(i, int(ends[i]))
    # The weighted median of the band: the level's own distance.
    wcum = np.cumsum(weight[band])
    level = logd[band][int(np.searchsorted(wcum, 0.5 * wcum[-1]))]
    return float(np.exp(-level))


def dolly_zoom_limit(
    points: np.ndarray, focus_depth: float, tan_half: tuple[float, float]
) -> float:
    """Largest DOLLY_ZOOM amplitude (fraction of ``focus_depth``) whose start pose still sees
    only the scene (``points``: the mesh's camera-space vertices, frame margin included).

    Moving back by b with the lens narrowed by (z_f + b) / z_f keeps the focus plane's framing
    but widens the view of anything nearer: the frame's edge ray meets distance z at tangent
    t z_f (z + b) / (z z_f + z b), so an outermost scene point at distance z and outward
    tangent T stays outside the frame while b <= z z_f (T - t) / (t z_f - T z) (when
    T z < t z_f; t = the frame's half-angle tangent). The outermost point is taken in each
    of BORDER_BINS bins along every side; the smallest bound wins."""
    pts = np.asarray(points, np.float64).reshape(-1, 3)
    pts = pts[pts[:, 2] < 0]
    if len(pts) == 0:
        return math.inf
    z = -pts[:, 2]
    z_f = float(focus_depth)
    limit = math.inf
    for axis, sign in ((0, 1.0), (0, -1.0), (1, 1.0), (1, -1.0)):
        t, t_along = tan_half[axis], tan_half[1 - axis]
        outward = sign * pts[:, axis] / z
        along = pts[:, 1 - axis] / z
        inside = np.abs(along) < t_along
        bins = np.floor((along[inside] / t_along + 1.0) * 0.5 * BORDER_BINS).astype(np.int64)
        out, depth = outward[inside], z[inside]
        order = np.lexsort((out, bins))  # by bin, then outward: each bin's last is outermost
        last = np.flatnonzero(np.diff(np.append(bins[order], BORDER_BINS + 1)) != 0)
        tangent, near = out[order][last], depth[order][last]
        if (tangent <= t).any():
            return 0.0  # the scene does not even fill the rest frame there
        tight = tangent * near < t * z_f
        if tight.any():
            bound = near * z_f * (tangent - t) / (t * z_f - tangent * near)
            limit = min(limit, float(bound[tight].min()))
    return limit / z_f
