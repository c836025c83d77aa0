"""Geometry extension (one round per grown layer): the "deepest surface" map F (initially layer 0)
is cut wherever neighbours differ by more than the threshold (layer 0: the cleaned cuts of
``preprocess``). The background side of every cut is a seed. Every lattice position takes the
disparity of its nearest seed (an exact Euclidean distance transform with labels, so a whole
round is a handful of O(N) OpenCV passes, no per-step dilation loop), and becomes a new sample
when (a) it lies within ``steps`` pixels of that seed (less the distance the seed itself was
already grown), (b) the seed's surface is behind F there by more than the threshold - so grown
samples are always behind the foreground they extend, and growth stops where the background
would emerge in front of something (another edge) - and (c) it is 4-connected through accepted
positions to a seed. The grown disparity continues the background (nearest background value),
never the foreground. Nested layers (an object in front of an object in front of a wall) come
out of repeated rounds: the wall grown behind the middle object meets the middle object grown
behind the front one; that meeting line is a cut in F and seeds the next layer.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import cv2
import numpy as np

from .preprocess import Cuts


def _seeds(
    F: np.ndarray,
    Flayer: np.ndarray,
    cuts: Cuts,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Background sides (ys, xs) of the cuts of the deepest-surface map F, and the disparity
    of the foreground across each cut. Between two layer-0 samples the cleaned cuts decide
    (noise fragments stay linked); a pair involving a grown sample (Flayer > 0) is cut by the
    threshold. Dense image masks, one nonzero per direction (the grown samples may be a large
    part of the image); a pixel may be listed twice."""
    h, w = F.shape
    out_y, out_x, out_fg = [], [], []
    grown = Flayer > 0
    for cut, (dy, dx) in ((cuts.right, (0, 1)), (cuts.down, (1, 0))):
        gp, gq = grown[: h - dy, : w - dx], grown[dy:, dx:]
        any_grown = gp | gq
        pair = cut & ~any_grown
        if any_grown.any():
            # Transparent pixels are +inf: inf - inf (two of them, never a grown pair) is NaN.
            with np.errstate(invalid="ignore"):
                jump = F[dy:, dx:] - F[: h - dy, : w - dx]
            pair |= any_grown & (np.abs(jump) > threshold)
        py, px = np.nonzero(pair)
        qy, qx = py + dy, px + dx
        fp, fq = F[py, px], F[qy, qx]
        near_q = fq > fp
        out_y += [py[near_q], qy[~near_q]]
        out_x += [px[near_q], qx[~near_q]]
        out_fg += [fq[near_q], fp[~near_q]]
    return np.concatenate(out_y), np.concatenate(out_x), np.concatenate(out_fg)


_TAIL = np.ones((7, 7), np.uint8)


def seed_slope(
    disp: np.ndarray,
    cuts: Cuts,
    ys: np.ndarray,
    xs: np.ndarray,
    radius: int = 4,
    threshold: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Disparity gradient (x, y) of the surface at the given pixels, averaged over a
    (2r+1)^2 window from neighbour differences that do not cross a cut - so the slope at the
    background side of an edge is the background's, not the jump's. With ``threshold``, only
    pairs within four thresholds of the seed's own disparity count: the window reaches past
    the edge onto the foreground, whose pixels are not always separated by cuts (the ramp of
    a soft edge). Sparse (per pixel)."""
    h, w = disp.shape
    own = disp[ys, xs]
    band = np.float32(4.0 * threshold) if threshold is not None else np.float32(np.inf)
    # Differences within three pixels of a cut are left out: a soft depth edge leaves a faint
    # tail there (steps below the threshold) that would tilt the grown surface.
    near = cv2.dilate(cuts.edge_pixels().view(np.uint8), _TAIL).view(bool)
    # Which differences count, as images indexed by the pair's first pixel (one flat gather
    # per offset instead of three 2-D ones): right pairs (y, x)-(y, x+1), down (y, x)-(y+1, x).
    ok_right = np.zeros((h, w), bool)
    ok_right[:, :-1] = ~(cuts.right | near[:, :-1] | near[:, 1:])
    ok_down = np.zeros((h, w), bool)
    ok_down[:-1, :] = ~(cuts.down | near[:-1, :] | near[1:, :])
    ok_right_f, ok_down_f = ok_right.reshape(-1), ok_down.reshape(-1)
    disp_f = np.ascontiguousarray(disp).reshape(-1)
    sx = np.zeros(ys.size, np.float32)
    nx = np.zeros(ys.size, np.float32)
    sy = np.zeros(ys.size, np.float32)
    ny = np.zeros(ys.size, np.float32)
    offsets = range(-radius, radius + 1)
    cols = [np.clip(xs + ox, 0, w - 1) for ox in offsets]  # xx per ox
    cols_r = [np.clip(xx, 0, w - 2) for xx in cols]  # xr per ox
    for oy in offsets:
        yy = np.clip(ys + oy, 0, h - 1)
        row = yy * w
        row_d = np.clip(yy, 0, h - 2) * w
        for xx, xr in zip(cols, cols_r, strict=True):
            i = row + xr
            a, b = disp_f[i], disp_f[i + 1]
            ok = ok_right_f[i]
            ok &= (np.abs(a - own) <= band) & (np.abs(b - own) <= band)
            sx += np.where(ok, b - a, 0.0)
            nx += ok
            i = row_d + xx
            a, b = disp_f[i], disp_f[i + w]
            ok = ok_down_f[i]
            ok &= (np.abs(a - own) <= band) & (np.abs(b - own) <= band)
            sy += np.where(ok, b - a, 0.0)
            ny += ok
    # Too few differences left (a seed boxed in by edges): no slope rather than a noisy one.
    enough = np.float32(2 * radius + 1)
    gx = np.where(nx >= enough, sx / np.maximum(nx, 1.0), 0.0).astype(np.float32)
    gy = np.where(ny >= enough, sy / np.maximum(ny, 1.0), 0.0).astype(np.float32)
    return gx, gy


# The extrapolated background may change by at most this fraction of the seed's disparity over
# the whole extension (keeps noisy slopes from flinging grown geometry around).
MAX_EXTRAPOLATION = 0.5


@dataclass
class _Pass:
    """Candidate samples of one growth pass (before the connectivity check) as flat lattice
    positions ``c`` (y * W + x), and the per-seed attributes their ``lab`` indexes."""

    c: np.ndarray
    lab: np.ndarray
    dd: np.ndarray
    v: np.ndarray
    value_of: np.ndarray
    reach_of: np.ndarray
    gx_of: np.ndarray
    gy_of: np.ndarray
    labels: np.ndarray
    dist: np.ndarray
    zone_limit: float  # positions with dist <= zone_limit are the context zone


def _pass(
    seed: np.ndarray,
    sy: np.ndarray,
    sx: np.ndarray,
    F: np.ndarray,
    Flayer: np.ndarray,
    reach: np.ndarray,
    steps_map: np.ndarray,
    GX: np.ndarray,
    GY: np.ndarray,
    disp0: np.ndarray,
    cuts: Cuts,
    threshold: float,
    far: np.float32,
    context_band: float,
) -> _Pass:
    """Every position takes its nearest seed (in ``seed``, listed row-major as sy, sx) and
    becomes a candidate sample when within that seed's reach and behind F there."""
    dist, labels = cv2.distanceTransformWithLabels(
        (~seed).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    # Labels number the seeds in row-major order (as np.nonzero lists them); index 0 unused.
    n_lab = sy.size + 1
    lab_seed = labels[sy, sx]
    value_of = np.zeros(n_lab, np.float32)
    value_of[lab_seed] = F[sy, sx]
    reach_of = np.zeros(n_lab, np.float32)
    reach_of[lab_seed] = reach[sy, sx]
    sy_of = np.zeros(n_lab, np.float32)
    sy_of[lab_seed] = sy
    sx_of = np.zeros(n_lab, np.float32)
    sx_of[lab_seed] = sx
    steps_of = np.zeros(n_lab, np.float32)
    steps_of[lab_seed] = steps_map[sy, sx]
    max_steps = float(steps_of.max())
    limit_cap = np.float32(MAX_EXTRAPOLATION) * value_of / np.maximum(steps_of, 1.0)
    gsx, gsy = GX[sy, sx], GY[sy, sx]
    on0 = Flayer[sy, sx] == 0
    if on0.any():
        gsx[on0], gsy[on0] = seed_slope(disp0, cuts, sy[on0], sx[on0], threshold=threshold)
    gx_of = np.zeros(n_lab, np.float32)
    gx_of[lab_seed] = gsx
    gy_of = np.zeros(n_lab, np.float32)
    gy_of[lab_seed] = gsy
    gnorm = np.sqrt(gx_of**2 + gy_of**2)
    shrink = np.minimum(1.0, limit_cap / np.maximum(gnorm, 1e-12)).astype(np.float32)
    gx_of *= shrink
    gy_of *= shrink
    # Work on the candidate pixels only (within reach of some seed), as flat positions: 1-D
    # gathers are much cheaper than (y, x) fancy indexing, and the band may be most of the
    # image. (The context zone, dist <= zone_limit, is taken later from ``dist``.)
    # The reach test is dense (image-wide gathers by label): listing every pixel within the
    # largest seed's reach first would list most of the image.
    w = F.shape[1]
    own_reach = steps_of[labels]
    own_reach -= reach_of[labels]
    c = np.flatnonzero((dist <= own_reach) & (dist > 0))
    del own_reach
    dd = dist.reshape(-1)[c]
    lab = labels.reshape(-1)[c]
    cy, cx = np.divmod(c, w)
    v = value_of[lab] + gx_of[lab] * (cx - sx_of[lab]) + gy_of[lab] * (cy - sy_of[lab])
    v = np.maximum(v, np.float32(1.0 - MAX_EXTRAPOLATION) * value_of[lab])
    # Nothing grows farther away than the farthest surface the photo shows (a slope
    # measured at a crease, where a wall meets the floor, would otherwise tilt it away).
    v = np.maximum(v, far)
    ok = v < F.reshape(-1)[c] - threshold
    return _Pass(
        c[ok],
        lab[ok],
        dd[ok],
        v[ok],
        value_of,
        reach_of,
        gx_of,
        gy_of,
        labels,
        dist,
        max_steps + context_band,
    )


# Smoothing radius (px) where grown samples from different seeds meet with a jump.
CRACK_SIGMA = 3.0


CRACK_PASSES = 3


def _close_cracks(
    v: np.ndarray,
    c: np.ndarray,
    accept: np.ndarray,
    F: np.ndarray,
    threshold: float,
    weights: list[np.ndarray],
) -> np.ndarray:
    """Where the background grown from two different edges meets (trees behind one part of
    an outline, sky behind the next), neighbouring grown samples can differ by more than the
    threshold: they would not be linked, and a moving camera would look through the crack
    between them. There the grown disparity is smoothed (a normalised Gaussian over the grown
    samples), so the hidden background is one surface; samples that would come forward of
    what they hide keep their value. ``c``: the grown samples' flat positions; ``weights``
    caches the blurred ``accept`` mask across passes (the samples do not change)."""
    h, w = accept.shape
    field = np.zeros((h, w), np.float32)
    field.reshape(-1)[c] = v
    jump = np.zeros((h, w), bool)
    dx = accept[:, :-1] & accept[:, 1:] & (np.abs(np.diff(field, axis=1)) > threshold)
    dy = accept[:-1, :] & accept[1:, :] & (np.abs(np.diff(field, axis=0)) > threshold)
    jump[:, :-1] |= dx
    jump[:, 1:] |= dx
    jump[:-1, :] |= dy
    jump[1:, :] |= dy
    if not jump.any():
        return v
    r = int(np.ceil(2 * CRACK_SIGMA))
    near = cv2.dilate(jump.view(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)).view(bool)
    if not weights:
        weights.append(cv2.GaussianBlur(accept.astype(np.float32), (0, 0), CRACK_SIGMA))
    smooth = cv2.GaussianBlur(field, (0, 0), CRACK_SIGMA) / np.maximum(weights[0], 1e-6)
    s = smooth.reshape(-1)[c]
    ok = near.reshape(-1)[c] & (s < F.reshape(-1)[c] - threshold)
    return np.where(ok, s, v).astype(np.float32)


def grow_layers(
    disp0: np.ndarray,
    cuts: Cuts,
    threshold: float,
    steps: float,
    max_layers: int,
    context_band: float,
    valid0: np.ndarray | None = None,
    reveal: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Geometry extension. Returns per grown layer: valid mask, disparity, and the context map
    (layer that supplies background colour for inpainting, -1 elsewhere).

    How far each edge grows: ``steps`` pixels, or, with ``reveal`` (background disparity,
    foreground disparity -> pixels, see ``pipeline.ldi.reveal``), as far as the largest camera
    move the 3D photo is made for opens that edge, if that is more (bounded by
    ``reveal.MAX_GROWTH``-style caps inside the callable).

    The grown disparity continues the background surface linearly: seed disparity plus the
    seed's background slope (``surface_slope``) times the offset from the seed, clamped, so a
    receding floor or a slanted wall continues as a plane (and simplifies as one)."""
    h, w = disp0.shape
    F = disp0.copy()
    Flayer = np.zeros((h, w), np.int8)
    reach = np.zeros((h, w), np.float32)  # how far the deepest sample already was grown
    # Background slope of the deepest sample (grown samples keep their seed's slope).
    GX = np.zeros((h, w), np.float32)
    GY = np.zeros((h, w), np.float32)
    if valid0 is not None:
        # Transparent photo pixels: nothing to grow from or behind.
        F[~valid0] = np.inf
    finite = np.isfinite(F)
    far = np.float32(F[finite].min()) if finite.any() else np.float32(0.0)
    masks: list[np.ndarray] = []
    disps: list[np.ndarray] = []
    contexts: list[np.ndarray] = []
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    # Only the pixels right at a cut: the next ones out are clean and the nearest context the
    # hidden background has (a 3x3 ring cost 0.4-0.6 dB behind outlines on the floor scene,
    # exact depth, and gained nothing on soft or network depth).
    mixed = cuts.edge_pixels()
    for k in range(1, max_layers + 1):
        sy, sx, fg = _seeds(F, Flayer, cuts, threshold)
        own_steps = np.full(sy.size, np.float32(steps))
        if reveal is not None and sy.size:
            own_steps = np.maximum(own_steps, reveal(F[sy, sx], fg).astype(np.float32))
        live = (reach[sy, sx] < own_steps - 1.0) & np.isfinite(F[sy, sx])
        seed = np.zeros((h, w), bool)
        seed[sy[live], sx[live]] = True
        steps_map = np.zeros((h, w), np.float32)
        np.maximum.at(steps_map, (sy[live], sx[live]), own_steps[live])
        # Row-major and de-duplicated, as np.nonzero(seed) lists them, without scanning the
        # image: the seeds are few.
        sy, sx = np.divmod(np.unique(sy[live] * w + sx[live]), w)
        if sy.size == 0:
            break

        run = partial(
            _pass, F=F, Flayer=Flayer, reach=reach, steps_map=steps_map, GX=GX, GY=GY,
            disp0=disp0, cuts=cuts, threshold=threshold, far=far,
        )  # fmt: skip
        # Second pass for the far-reaching seeds (large jumps): in the first, every pixel
        # belongs to its nearest seed, and a nearby seed that may grow only a little (a small
        # step, a fragment) would stop a large edge's growth at the boundary of its cell.
        # The two passes only read the maps: the second runs in a thread beside the first.
        is_far = steps_map[sy, sx] > np.float32(steps) + 1.0
        p2: _Pass | None = None
        with ThreadPoolExecutor(max_workers=1) as pool:
            second: Future[_Pass] | None = None
            if is_far.any():
                fy, fx = sy[is_far], sx[is_far]
                far_seed = np.zeros((h, w), bool)
                far_seed[fy, fx] = True
                second = pool.submit(run, far_seed, fy, fx, context_band=0.0)
            p1 = run(seed, sy, sx, context_band=context_band)
            if second is not None:
                p2 = second.result()
        c, lab, dd, v = p1.c, p1.lab, p1.dd, p1.v
        value_of, reach_of, gx_of, gy_of = p1.value_of, p1.reach_of, p1.gx_of, p1.gy_of
        labels = p1.labels
        if p2 is not None and c.size:
            taken = np.zeros(h * w, bool)
            taken[c] = True
            new = ~taken[p2.c]
            offset = value_of.size
            c = np.concatenate([c, p2.c[new]])
            lab = np.concatenate([lab, p2.lab[new] + offset])
            dd = np.concatenate([dd, p2.dd[new]])
            v = np.concatenate([v, p2.v[new]])
            value_of = np.concatenate([value_of, p2.value_of])
            reach_of = np.concatenate([reach_of, p2.reach_of])
            gx_of = np.concatenate([gx_of, p2.gx_of])
            gy_of = np.concatenate([gy_of, p2.gy_of])
        accept = np.zeros((h, w), bool)
        accept.reshape(-1)[c] = True
        # Keep only regions 4-connected to a seed (growth never jumps across a gap).
        n, comp = cv2.connectedComponents(accept.view(np.uint8), connectivity=4)
        if n <= 1:
            break
        touching = cv2.dilate(seed.view(np.uint8), cross).view(bool) & accept
        keep = np.zeros(n, bool)
        keep[np.unique(comp[touching])] = True
        keep[0] = False
        ok = keep[comp.reshape(-1)[c]]
        c, lab, dd, v = c[ok], lab[ok], dd[ok], v[ok]
        if c.size == 0:
            break
        accept = np.zeros((h, w), bool)
        accept_f = accept.reshape(-1)
        accept_f[c] = True
        if k == max_layers:
            # Earlier rounds leave such meeting lines to the next round, which grows the
            # farther surface behind the nearer one (nested layers); the last round cannot.
            weights: list[np.ndarray] = []
            for _ in range(CRACK_PASSES):
                v = _close_cracks(v, c, accept, F, threshold, weights)
        # Background context for inpainting: near the grown region, on the seed's surface or
        # behind it, never in front of it (the foreground).
        # Dense: the zone is usually most of the image.
        vz = value_of[labels]
        inz = (p1.dist <= p1.zone_limit) & ~accept
        inz &= F <= vz + threshold
        inz &= F >= vz - 4.0 * threshold
        # Pixels right at an outline mix both sides' colours (antialiasing, JPEG, the lens):
        # they would tint the hidden background with the foreground's colour.
        inz &= ~mixed
        del vz
        context = np.where(inz, Flayer, np.int8(-1))
        contexts.append(context)
        masks.append(accept)
        layer_disp = np.zeros((h, w), np.float32)
        layer_disp.reshape(-1)[c] = v
        disps.append(layer_disp)
        F.reshape(-1)[c] = v
        Flayer.reshape(-1)[c] = k
        reach.reshape(-1)[c] = reach_of[lab] + dd
        GX.reshape(-1)[c] = gx_of[lab]
        GY.reshape(-1)[c] = gy_of[lab]
    return masks, disps, contexts
