"""How much a moving camera reveals: growth sized per edge, and the safe-motion estimate.

A camera that moves sideways by ``t`` opens a gap of ``f * t * (1/z_near - 1/z_far)`` pixels at
an occlusion edge (``f`` the focal length in pixels). The 3D photo's camera moves are fractions
of the focus distance ``z_f`` (``pipeline.motion``), and the pipeline works in normalised
disparity ``d`` with ``1/z = max(d, floor) / scale``, so with ``t = a * z_f`` the gap is

    gap = f * a * (max(d_fg, floor) - max(d_bg, floor)) / d_focus      (pixels)

where ``d_focus`` is the focus distance's disparity. A forward move ``a * z_f`` opens about
``r / f`` times that at ``r`` pixels from the centre, at most the frame's half diagonal.

Geometry extension grows each edge by the gap the largest default camera move opens there (plus
a safety factor), so no preset at its default amplitude shows a hole; ``safe_motion`` turns the
LDI's actual growth back into the largest move per direction that stays covered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..motion import DEFAULT_AMPLITUDES, LATERAL_PRESETS
from .layers import LDI, D, R

# How far from the centre (units of the focal length, f = the long side) a forward move's gaps
# are sized for: the middle of the frame's long sides (the corners open ~25 % more, and the
# safe-motion check counts them: move_extent uses CORNER_RADIUS).
EDGE_RADIUS = 0.5
CORNER_RADIUS = 0.625
# The largest gap-opening move of the default presets, as a sideways-equivalent fraction of
# the focus distance (forward moves count at the frame's corners).
DESIGN_MOVE = max(
    max(DEFAULT_AMPLITUDES[p] for p in LATERAL_PRESETS),
    EDGE_RADIUS * DEFAULT_AMPLITUDES["ZOOM_IN"],
    EDGE_RADIUS * DEFAULT_AMPLITUDES["DOLLY_ZOOM"],
)
# Growth covers this much more than the design move opens, plus a couple of pixels for the
# half-pixel silhouettes and rasterisation.
SAFETY = 1.15
SLACK_PX = 2.0
# No edge grows farther than this fraction of the photo's long side (memory and time bound).
MAX_GROWTH = 0.15


def focus_disparity(disp: np.ndarray, floor: float, valid: np.ndarray | None = None) -> float:
    """Disparity of the focus distance the camera presets use: the median of the photo's."""
    values = disp if valid is None else disp[valid]
    if values.size == 0:
        return 1.0
    return float(np.median(np.maximum(values, floor)))


def growth(
    focal_px: float, d_focus: float, floor: float, long_side: int, move: float = DESIGN_MOVE
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """(background disparity, foreground disparity) -> pixels of background to grow there."""
    gain = np.float32(SAFETY * focal_px * move / max(d_focus, 1e-6))
    cap = np.float32(MAX_GROWTH * long_side)
    fl = np.float32(floor)

    def steps(bg: np.ndarray, fg: np.ndarray) -> np.ndarray:
        jump = np.maximum(fg, fl) - np.maximum(bg, fl)
        px = gain * np.maximum(jump, 0.0) + np.float32(SLACK_PX)
        return np.minimum(np.nan_to_num(px, nan=0.0, posinf=0.0), cap)

    return steps


def margin_for_move(
    focal_px: float, d_focus: float, d_far: float, move: float = DESIGN_MOVE
) -> int:
    """Frame margin (px) that the farthest surface needs for the design move: it slides by
    ``f * a * d_far / d_focus`` px past the frame's border."""
    return int(np.ceil(SAFETY * focal_px * move * d_far / max(d_focus, 1e-6) + SLACK_PX))


@dataclass
class SafeMotion:
    """Largest camera moves (fraction of the focus distance) that reveal no hole, per
    direction: the camera moving right / left / up / down."""

    right: float
    left: float
    up: float
    down: float

    def lateral(self) -> float:
        return min(self.right, self.left, self.up, self.down)

    def to_dict(self) -> dict[str, float]:
        return {"right": self.right, "left": self.left, "up": self.up, "down": self.down}


def _covered_run(
    grown: np.ndarray,
    d0: np.ndarray,
    ys: np.ndarray,
    xs: np.ndarray,
    step: tuple[int, int],
    background: np.ndarray,
    threshold: float,
    limit: int,
    enough: np.ndarray | None = None,
) -> np.ndarray:
    """From each edge sample (ys, xs) under the foreground, walking by ``step``: how many
    positions in a row hold the background (a grown sample, or the photo's own background
    again past a thin object)."""
    h, w = grown.shape
    run = np.zeros(ys.size, np.float32)
    alive = np.ones(ys.size, bool)
    for k in range(limit):
        y = ys + step[0] * k
        x = xs + step[1] * k
        inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
        yc, xc = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
        ok = inside & (grown[yc, xc] | (d0[yc, xc] <= background + threshold))
        alive &= ok
        if enough is not None:
            alive &= run < enough  # covered far enough: the estimate is capped anyway
        if not alive.any():
            break
        run += alive
    return run


def safe_motion(
    ldi: LDI,
    focal_px: float,
    d_focus: float,
    floor: float,
    quantile: float = 0.02,
    cap: float = 1.0,
) -> SafeMotion:
    """From the LDI's actual growth: for every occlusion edge of the photo, the hidden
    background grown behind the foreground covers a gap of ``g`` px (the run of grown samples
    from the edge under the foreground, plus one), and the edge opens by ``f * a * jump / d_focus``
    px for a move ``a``; the edge allows ``a = (g + 1) * d_focus / (f * jump)``. The estimate per
    direction is a low quantile over the edges (a few isolated fragments do not set it), and
    the frame margin bounds it too (the scene beyond the border at the farthest depth)."""
    grown = ldi.valid[1:].any(axis=0) if ldi.layers > 1 else np.zeros(ldi.shape, bool)
    limit = int(np.ceil(MAX_GROWTH * max(ldi.shape))) + 2
    d0 = np.maximum(ldi.disp[0], np.float32(floor))
    out: dict[str, float] = {}
    # Camera moving right (+x): the scene shifts left in the image, so the background emerges
    # on the right side of every foreground object: edges where the foreground is at p and the
    # background at q = p + 1 (to its right); the gap opens under the foreground, to the left
    # of q, and is covered by grown samples running leftward from p.
    inside = np.zeros(ldi.shape, bool)
    m = ldi.margin
    inside[m : ldi.shape[0] - m, m : ldi.shape[1] - m] = True
    for name, axis, direction in (("right", 1, R), ("left", 1, R), ("down", 0, D), ("up", 0, D)):
        cut = ldi.links[0, direction] != 0
        cut = cut[:, :-1] if axis == 1 else cut[:-1, :]
        a = d0[:, :-1] if axis == 1 else d0[:-1, :]
        b = d0[:, 1:] if axis == 1 else d0[1:, :]
        ok = cut & ((inside[:, :-1] & inside[:, 1:]) if axis == 1 else (inside[:-1] & inside[1:]))
        # Image rows grow downward: a camera moving up shifts near points down more than far
        # ones and reveals the background above objects (foreground at the higher row), one
        # moving down reveals it below them (foreground at the lower row, like "right").
        fg_first = name in ("right", "down")
        sel = ok & ((a > b) if fg_first else (b > a))
        py, px = np.nonzero(sel)
        if py.size == 0:
            out[name] = cap
            continue
        fg_d = np.maximum(a[py, px], b[py, px])
        bg_d = np.minimum(a[py, px], b[py, px])
        jump = fg_d - bg_d
        # Walk from the foreground's edge sample away from the background.
        sy = py + (0 if fg_first or axis == 1 else 1)
        sx = px + (0 if fg_first or axis == 0 else 1)
        sign = -1 if fg_first else 1
        step = (sign, 0) if axis == 0 else (0, sign)
        # Walks stop once they cover what the cap needs (most of an image is open background).
        enough = np.ceil(cap * focal_px * jump / max(d_focus, 1e-6))
        g = _covered_run(grown, d0, sy, sx, step, bg_d, ldi.threshold, limit, enough)
        # One pixel more: a gap narrower than a pixel is closed by the half-pixel silhouette
        # and the rasteriser (and edges with a tiny jump then never bound the estimate).
        allowed = (g + 1.0) * d_focus / (focal_px * np.maximum(jump, 1e-6))
        out[name] = float(min(cap, np.quantile(allowed, quantile)))
    # The frame margin: the farthest surface slides by f * a * d_far / d_focus px.
    d_far = float(d0[inside].min()) if inside.any() else floor
    border = m * d_focus / (focal_px * max(d_far, 1e-6)) if m > 0 else 0.0
    return SafeMotion(**{k: min(v, border) for k, v in out.items()})


def move_extent(locations: np.ndarray) -> dict[str, float]:
    """How far a camera path opens gaps, per direction (Blender units): its sideways offsets
    as they are, plus its forward / backward travel at the frame's corner (``CORNER_RADIUS``),
    which opens every edge radially."""
    loc = np.asarray(locations, np.float64).reshape(-1, 3)
    radial = CORNER_RADIUS * np.abs(loc[:, 2])
    return {
        "right": float(np.max(loc[:, 0] + radial, initial=0.0)),
        "left": float(np.max(-loc[:, 0] + radial, initial=0.0)),
        "up": float(np.max(loc[:, 1] + radial, initial=0.0)),
        "down": float(np.max(-loc[:, 1] + radial, initial=0.0)),
    }


def covered_fraction(safe: dict[str, float], locations: np.ndarray) -> float:
    """How much of a camera path the 3D photo covers without holes: >= 1 when all of it, 0.5
    when holes would show from half its amplitude on (``safe``: the photo's safe moves in
    Blender units, per direction). Infinite for a path that does not move."""
    extent = move_extent(locations)
    ratios = [safe[k] / v for k, v in extent.items() if v > 1e-12 and k in safe]
    return min(ratios, default=float("inf"))
