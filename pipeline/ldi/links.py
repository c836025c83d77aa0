"""Explicit 4-neighbour links between LDI samples: which sample at the neighbouring position
each sample connects to. Photo pixels link unless a cut separates them; grown samples link to
their mutual best match within the depth threshold.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..runtime.parallel import thread_map
from .layers import OPPOSITE, STEPS, D, L, R, U
from .preprocess import Cuts


def _argmin_small(a: np.ndarray, axis: int) -> np.ndarray:
    """``np.argmin(a, axis)`` for a (K, K, n) array with small K (first minimum wins, as
    argmin): K - 1 elementwise comparisons, much faster than argmin along a short strided
    axis."""
    take = (lambda i: a[:, i]) if axis == 1 else (lambda i: a[i])
    best = take(0).copy()
    index = np.zeros(best.shape, np.intp)
    for i in range(1, a.shape[axis]):
        cand = take(i)
        better = cand < best
        index[better] = i
        np.copyto(best, cand, where=better)
    return index


def _link_direction(
    links: np.ndarray,
    valid: np.ndarray,
    disp: np.ndarray,
    grown: np.ndarray,
    cuts: Cuts,
    threshold: float,
    direction: int,
) -> None:
    """compute_links for the pairs (p, q = p + step) of one direction (R or D) with a grown
    sample on either side: sets links[:, direction] at p and links[:, opposite] at q."""
    k_layers, h, w = valid.shape
    dy, dx = STEPS[direction]
    # Flat (layer, position) views: 1-D gathers and scatters over flat positions are much
    # cheaper than (y, x) fancy indexing of the 3-D / 4-D arrays.
    valid_f = valid.reshape(k_layers, h * w)
    disp_f = disp.reshape(k_layers, h * w)
    links_f = links.reshape(k_layers, 4, h * w)
    # Pairs (p, q = p + step) with a grown sample on either side; others are 0-0 only.
    g = np.zeros((h, w), bool)
    g[: h - dy, : w - dx] = grown[: h - dy, : w - dx] | grown[dy:, dx:]
    pairs = np.flatnonzero(g)
    # Pairs are independent: chunks bound the (K, K, n) temporaries (peak memory, with the
    # other direction and the inpainting running at the same time).
    for start in range(0, pairs.size, _LINK_CHUNK):
        p = pairs[start : start + _LINK_CHUNK]
        _link_pairs(links_f, valid_f, disp_f, cuts, threshold, direction, p, p + (dy * w + dx), w)


# Pairs per chunk in compute_links.
_LINK_CHUNK = 1 << 18


def _link_pairs(
    links_f: np.ndarray,
    valid_f: np.ndarray,
    disp_f: np.ndarray,
    cuts: Cuts,
    threshold: float,
    direction: int,
    p: np.ndarray,
    q: np.ndarray,
    w: int,
) -> None:
    """Mutual-best links of the pairs (p, q) (flat positions) of one direction."""
    k_layers = valid_f.shape[0]
    dx = STEPS[direction][1]
    big = np.float32(np.inf)
    n = p.size
    va, vb = valid_f[:, p], disp_f[:, p]  # (K, n)
    wa, wb = valid_f[:, q], disp_f[:, q]
    cut = cuts.right if direction == R else cuts.down
    # p lies inside the cut mask's (h - dy, w - dx) shape: its row and column there.
    cut00 = cut.reshape(-1)[(p // w) * (w - dx) + p % w]
    # diff[k, j]: cost of linking sample k at p with sample j at q.
    # In place: these (K, K, n) temporaries are most of the cost.
    diff = np.subtract(vb[:, None], wb[None, :])
    np.abs(diff, out=diff)
    bad = np.greater(diff, np.float32(threshold))
    both = np.logical_and(va[:, None], wa[None, :])
    np.logical_not(both, out=both)
    bad |= both
    del both
    np.copyto(diff, big, where=bad)
    del bad
    # Layer 0 - layer 0 is decided by the cuts and takes priority.
    diff[0, 0] = np.where(cut00 | ~(va[0] & wa[0]), big, np.float32(-1.0))
    best_j = _argmin_small(diff, axis=1)  # (K, n): for each k at p
    best_k = _argmin_small(diff, axis=0)  # (K, n): for each j at q
    col = np.arange(n)
    fwd = np.empty((k_layers, n), np.int8)
    for k in range(k_layers):
        j = best_j[k]
        finite = diff[k].reshape(-1)[j * n + col] < big
        mutual = best_k.reshape(-1)[j * n + col] == k
        fwd[k] = np.where(finite & mutual, j, -1)
        links_f[k, direction, p] = fwd[k]
    # Reverse links (symmetric by construction): from the forward ones.
    opposite = OPPOSITE[direction]
    for j in range(k_layers):
        back = np.full(n, -1, np.int8)
        for k in range(k_layers):
            back = np.where(fwd[k] == j, np.int8(k), back)
        links_f[j, opposite, q] = back


def compute_links(valid: np.ndarray, disp: np.ndarray, cuts: Cuts, threshold: float) -> np.ndarray:
    """Symmetric 4-neighbour links. Layer 0 to layer 0: linked unless cut. Pairs involving a
    grown sample: linked when their disparities differ by at most the threshold and each is the
    other's closest candidate (mutual best), so every sample links to at most one sample per
    direction and the result is symmetric by construction."""
    k_layers, h, w = valid.shape
    links = np.full((k_layers, 4, h, w), -1, np.int8)
    links[0, R, :, :-1] = np.where(cuts.right, -1, 0)
    links[0, L, :, 1:] = np.where(cuts.right, -1, 0)
    links[0, D, :-1, :] = np.where(cuts.down, -1, 0)
    links[0, U, 1:, :] = np.where(cuts.down, -1, 0)
    if not valid[0].all():
        # Transparent layer-0 pixels link to nothing (and nothing links to them).
        for d in range(4):
            links[0, d][~valid[0]] = -1
        links[0, R, :, :-1][~valid[0][:, 1:]] = -1
        links[0, L, :, 1:][~valid[0][:, :-1]] = -1
        links[0, D, :-1, :][~valid[0][1:, :]] = -1
        links[0, U, 1:, :][~valid[0][:-1, :]] = -1
    if k_layers == 1:
        return links
    grown = valid[1:].any(axis=0)
    # The two directions write disjoint parts of ``links``: the second runs in a thread.
    run = partial(_link_direction, links, valid, disp, grown, cuts, threshold)
    thread_map(run, (R, D))
    return links
