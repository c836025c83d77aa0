"""Depth preprocessing: the guided weighted median snaps ramps to the colour edge; the edge map
cleanup drops short fragments and keeps real edges."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.ldi.preprocess import clean_cuts, find_cuts, preprocess, weighted_median


def test_weighted_median_snaps_a_depth_ramp_to_the_colour_edge() -> None:
    h, w = 32, 40
    guide = np.zeros((h, w, 3), np.float32)
    guide[:, 20:] = 1.0  # colour edge between x = 19 and x = 20
    disp = np.full((h, w), 0.2, np.float32)
    disp[:, 22:] = 1.0
    disp[:, 18:22] = np.linspace(0.2, 1.0, 6, dtype=np.float32)[1:5]  # soft ramp
    out = weighted_median(disp, guide, threshold=0.04, radius=2, iterations=2)
    # The background side snaps exactly to the background; the foreground side becomes
    # foreground-like; the largest jump sits on the colour edge.
    np.testing.assert_allclose(out[:, :20], 0.2, atol=1e-6)
    assert (out[:, 20:] >= 0.8).all()
    assert (np.argmax(np.diff(out, axis=1), axis=1) == 19).all()


def test_weighted_median_keeps_smooth_surfaces() -> None:
    yy, xx = np.mgrid[0:30, 0:30].astype(np.float32)
    disp = 0.3 + 0.002 * xx + 0.001 * yy
    rng = np.random.default_rng(1)
    guide = rng.random((30, 30, 3)).astype(np.float32)
    out = weighted_median(disp, guide, threshold=0.04)
    np.testing.assert_array_equal(out, disp)  # no pixel's window spans half the threshold


def test_cut_cleanup_drops_short_fragments_only() -> None:
    h, w = 60, 60
    disp = np.full((h, w), 0.2, np.float32)
    disp[10:50, 30:] = 0.9  # a long edge (40 px)
    disp[5, 5] = 0.5  # a noise speck: edge piece 3 px long
    disp[54:56, 10:13] = 0.6  # a small blob
    raw = find_cuts(disp, 0.04)
    cleaned = clean_cuts(raw, min_edge_length=15)
    assert raw.right[5, 4] and raw.right[5, 5]
    assert not cleaned.right[5, 4] and not cleaned.right[5, 5]
    assert not cleaned.down[53:56, 10:13].any()
    np.testing.assert_array_equal(cleaned.right[10:50, 29], True)
    assert cleaned.right.sum() == 40 and cleaned.down.sum() == 2 * 30


def test_preprocess_returns_sharpened_disparity_and_cuts() -> None:
    disp = np.full((20, 30), 0.2, np.float32)
    disp[:, 15:] = 0.8
    guide = np.zeros((20, 30, 3), np.float32)
    pre = preprocess(disp, guide, 0.04, 5, 1, 5)
    assert pre.disp.dtype == np.float32 and pre.disp.shape == disp.shape
    assert pre.cuts.right[:, 14].all() and pre.cuts.right.sum() == 20


def test_a_grazing_face_next_to_an_edge_is_not_cut_into_steps() -> None:
    """A box top seen at a grazing angle: the wall above, a real edge, then six rows whose
    disparity rises steadily (the top face), then the box front. The median must not turn
    the top face into steps that are cut as false edges; the input stays untouched."""
    h, w = 24, 40
    disp = np.full((h, w), 0.36, np.float32)
    for i, row in enumerate(range(8, 14)):
        disp[row] = 0.80 + 0.026 * i
    disp[14:] = 0.80 + 0.026 * 5 + 0.002 * np.arange(h - 14, dtype=np.float32)[:, None]
    guide = np.zeros((h, w, 3), np.float32)
    guide[:8] = (0.5, 0.5, 0.8)  # wall
    guide[8:] = (0.7, 0.3, 0.2)  # one material for the whole box: the median sees no edge
    before = disp.copy()
    pre = preprocess(disp, guide, 0.04, 5, 2, 0)
    np.testing.assert_array_equal(disp, before)
    assert pre.cuts.down[7].all()  # the real edge, wall -> box top
    assert pre.cuts.down.sum() == w and not pre.cuts.right.any()


def test_one_pixel_staircase_keeps_the_larger_cut_and_thin_objects_keep_both() -> None:
    row = np.array([[0.2, 0.2, 0.2, 0.5, 0.9, 0.9, 0.9, 0.9]], np.float32)
    stair = find_cuts(np.repeat(row, 6, axis=0), 0.04)
    # 0.2 -> 0.5 -> 0.9: the pixel at 0.5 would be a one-pixel layer; the larger jump wins.
    assert not stair.right[:, 2].any() and stair.right[:, 3].all()
    pole = np.array([[0.2, 0.2, 0.2, 0.9, 0.2, 0.2, 0.2, 0.2]], np.float32)
    thin = find_cuts(np.repeat(pole, 6, axis=0), 0.04)
    assert thin.right[:, 2].all() and thin.right[:, 3].all()


def test_a_large_photo_snaps_ramps_wider_than_the_window(monkeypatch) -> None:
    """A depth network's prediction upsampled to 12 MP leaves ramps ~10-40 px wide, each step below
    the threshold: the 5x5 median alone cannot see an edge there. The working-size pass snaps
    it, and the cut lands on the colour edge."""
    import pipeline.ldi.preprocess as pre_mod
    import pipeline.ldi.ramps as ramps_mod

    h, w = 48, 2400
    x = np.arange(w, dtype=np.float32)
    edge = 1200
    disp = np.repeat((0.2 + 0.3 * np.clip((x - (edge - 20)) / 40.0, 0, 1))[None], h, axis=0)
    guide = np.zeros((h, w, 3), np.float32)
    guide[:, edge:] = (0.9, 0.3, 0.2)
    guide[:, :edge] = (0.2, 0.3, 0.9)
    assert np.abs(np.diff(disp, axis=1)).max() < 0.04
    pre = preprocess(disp.astype(np.float32), guide, 0.04, 5, 2, 0)
    cols = np.nonzero(pre.cuts.right.any(axis=0))[0]
    assert pre.cuts.right.any(axis=1).all()  # every row is cut...
    assert cols.min() >= edge - 3 and cols.max() <= edge + 2  # ...at the colour edge
    # No working-size pass (neither the ramp snap nor the coarse median): no edge found.
    monkeypatch.setattr(pre_mod, "WORK_SIZE", 4096)
    monkeypatch.setattr(ramps_mod, "WORK_SIZE", 4096)
    assert not preprocess(disp.astype(np.float32), guide, 0.04, 5, 2, 0).cuts.right.any()


def _soft_edge(h: int, w: int, edge: int, width: int, overshoot: int) -> np.ndarray:
    """Background 0.2 | foreground 0.6 left of ``edge``, as a network sees it: a linear ramp
    ``width`` px wide (3 % of the image: a 384 px prediction's edge upsampled) whose middle
    lies ``overshoot`` px onto the background."""
    x = np.arange(w, dtype=np.float32)
    centre = edge + overshoot
    ramp = np.clip((centre + width / 2 - x) / width, 0.0, 1.0)
    return np.repeat((0.2 + 0.4 * ramp)[None], h, axis=0).astype(np.float32)


def _linked_span(pre, edge: int, reach: int = 12) -> np.ndarray:
    """Per row: total disparity change across linked (uncut) neighbours near ``edge``."""
    diff = np.abs(np.diff(pre.disp, axis=1))
    diff[pre.cuts.right] = 0.0
    return diff[:, edge - reach : edge + reach].sum(axis=1)


def test_a_soft_ramp_at_a_colour_edge_is_cut_there_and_nothing_stretches() -> None:
    h, w, edge = 60, 400, 200
    disp = _soft_edge(h, w, edge, width=12, overshoot=4)
    assert np.abs(np.diff(disp, axis=1)).max() < 0.04  # no single step reaches the threshold
    rng = np.random.default_rng(3)
    guide = np.empty((h, w, 3), np.float32)
    guide[:, :edge] = (0.75, 0.2, 0.15)  # a red subject...
    guide[:, edge:] = (0.2, 0.45, 0.25)  # ...in front of green foliage
    guide += rng.normal(0, 0.03, guide.shape).astype(np.float32)
    pre = preprocess(disp, guide, 0.04, 5, 2, 15.0)
    cut_cols = [np.nonzero(row)[0] for row in pre.cuts.right]
    assert all(c.size == 1 and abs(int(c[0]) - (edge - 1)) <= 1 for c in cut_cols), cut_cols[:3]
    # The cut carries the jump: what linked neighbours still span around the edge (what a
    # moving camera would stretch) is a small part of it (a rubber sheet carries all 0.4).
    assert _linked_span(pre, edge).max() <= 0.1
    # Both sides keep their own surface: the halo on the background is background again
    # (within less than the threshold), the subject's side stays the subject.
    assert np.abs(pre.disp[:, edge:] - 0.2).max() < 0.04
    np.testing.assert_allclose(pre.disp[:, : edge - 2], 0.6, atol=0.01)


def test_a_soft_ramp_without_a_colour_edge_is_still_split_not_stretched() -> None:
    h, w = 60, 400
    disp = _soft_edge(h, w, 200, width=12, overshoot=0)
    guide = np.full((h, w, 3), 0.5, np.float32)
    pre = preprocess(disp, guide, 0.04, 5, 2, 15.0)
    assert pre.cuts.right.any(axis=1).all()
    assert _linked_span(pre, 200).max() <= 0.1


def test_a_textured_grazing_plane_is_not_cut() -> None:
    """A floor seen at a grazing angle (disparity affine in the image, 0.15 -> 1.0) covered
    in high-contrast texture: no ramp, no step, no cut."""
    h, w = 240, 160
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    disp = (0.15 + 0.85 * yy / (h - 1) + 0.0005 * xx).astype(np.float32)
    rng = np.random.default_rng(5)
    tiles = rng.random((h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
    guide = tiles[(yy // 8).astype(int), (xx // 8).astype(int)]
    pre = preprocess(disp, guide, 0.04, 5, 2, 15.0)
    assert not pre.cuts.right.any() and not pre.cuts.down.any()
    np.testing.assert_allclose(pre.disp, disp, atol=1e-6)


def test_a_map_with_step_edges_is_left_to_the_median_a_soft_one_is_snapped() -> None:
    """A rendered depth (edges are one-pixel steps, and a box's narrow side face is a steep
    but real slope) is not ramp-snapped; the same scene as a network sees it is."""
    from pipeline.ldi.ramps import edges_are_sharp, snap_ramps

    h, w = 120, 160
    exact = np.full((h, w), 0.2, np.float32)
    exact[30:90, 60:100] = 0.8
    exact[30:90, 56:60] = np.linspace(0.3, 0.7, 4, dtype=np.float32)  # a grazing side face
    soft = cv2.GaussianBlur(
        cv2.resize(cv2.resize(exact, (40, 30), interpolation=cv2.INTER_AREA), (w, h)), (0, 0), 1
    )
    guide = np.zeros((h, w, 3), np.float32)
    guide[30:90, 56:100] = (0.8, 0.2, 0.1)
    assert edges_are_sharp(exact, 0.04) and not edges_are_sharp(soft, 0.04)
    np.testing.assert_array_equal(snap_ramps(exact, guide, 0.04), exact)
    assert np.abs(snap_ramps(soft, guide, 0.04) - soft).max() > 0.1


def test_a_soft_edge_in_a_map_of_sharp_ones_is_still_snapped() -> None:
    """A network's map is mostly steps (its prediction at about the photo's size) but one edge
    came out as a ramp with a halo over the background: the map as a whole reads as sharp, yet
    that ramp is snapped (its halo back to the background) and cut at the colour edge, so it
    does not stretch. The box's sharp edges are left to the median."""
    from pipeline.ldi.ramps import edges_are_sharp

    h, w, edge = 120, 240, 180
    disp = _soft_edge(h, w, edge, width=12, overshoot=4)
    disp[:, : edge - 20] = 0.6
    disp[:, :40] = 0.2
    disp[10:110, 50:150] = 0.2
    disp[20:100, 60:140] = 0.9  # a box with step edges
    rng = np.random.default_rng(7)
    guide = np.empty((h, w, 3), np.float32)
    guide[:, :edge] = (0.2, 0.3, 0.8)  # a blue card...
    guide[:, edge:] = (0.6, 0.55, 0.4)  # ...in front of a beige wall
    guide[20:100, 60:140] = (0.75, 0.2, 0.15)
    guide += rng.normal(0, 0.03, guide.shape).astype(np.float32)
    assert edges_are_sharp(disp, 0.04)
    pre = preprocess(disp, guide, 0.04, 5, 2, 15.0)
    cut_cols = [np.nonzero(row[edge - 12 : edge + 12])[0] + edge - 12 for row in pre.cuts.right]
    assert all(c.size == 1 and abs(int(c[0]) - (edge - 1)) <= 1 for c in cut_cols), cut_cols[:3]
    assert _linked_span(pre, edge).max() <= 0.1
    assert np.abs(pre.disp[:, edge:] - 0.2).max() < 0.04
    # The box's edges stay where they were.
    assert pre.cuts.right[20:100, 59].all() and pre.cuts.right[20:100, 139].all()


def test_a_snapped_bump_that_no_cut_keeps_gets_its_values_back() -> None:
    """A short smooth bump in a network's map, with no colour edge (a rise of 2.5 thresholds
    over 12 px, 9 rows long): the snap splits it in two, the cut cleanup drops the short step
    as a fragment, and the split must not stay behind as a ridge no cut separates (a streak
    from a moved camera)."""
    h, w = 64, 96
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    bump = np.clip((30 - xx) / 12.0, 0, 1) * 0.1 * np.clip(1 - np.abs(yy - 30) / 5.0, 0, 1)
    disp = (0.5 + bump).astype(np.float32)
    guide = np.full((h, w, 3), 0.5, np.float32) + (xx / w * 0.05)[..., None]
    pre = preprocess(disp, guide, 0.04, 5, 1, 15.0)
    d = pre.disp
    uncut_x = (np.abs(np.diff(d, axis=1)) > 0.04) & ~pre.cuts.right
    uncut_y = (np.abs(np.diff(d, axis=0)) > 0.04) & ~pre.cuts.down
    assert not uncut_x.any() and not uncut_y.any()
    # The bump is smooth again where nothing was cut.
    assert np.abs(d - disp).max() < 0.04


def test_a_split_ramp_keeps_no_stripe_between_its_two_sides() -> None:
    """A ridge in a network's map with no colour edge (a flat grey wall): a plain step up from
    the background, then a smooth descent, steep at first and with a long tail (8 + 12 rows).
    The snap splits the descent, but the pixel in its middle sees only one core in its own
    window and is not snapped: left between the two sides it made two steps, one pixel apart,
    where the cleanup keeps only one cut and the other stays as a step the mesh stretches
    over. It must take a side, so that the split is one step, and cut."""
    h, w, top = 80, 60, 20
    y = np.arange(h, dtype=np.float32)
    hi, lo = 0.6, 0.2
    mid = 0.5 * (hi + lo)
    u1 = np.clip((y - top) / 8.0, 0, 1)
    u2 = np.clip((y - top - 8.0) / 12.0, 0, 1)
    profile = np.where(
        u2 > 0,
        mid - (mid - lo) * np.sin(np.pi / 2 * u2),
        hi - (hi - mid) * (1 - np.cos(np.pi / 2 * u1)),
    )
    disp = np.repeat(np.where(y < top, lo, profile)[:, None], w, axis=1).astype(np.float32)
    assert np.abs(np.diff(disp[top:], axis=0)).max() < 0.04  # the descent: no step
    guide = np.full((h, w, 3), 0.5, np.float32)
    pre = preprocess(disp, guide, 0.04, 5, 1, 15.0)
    d = pre.disp
    uncut_y = (np.abs(np.diff(d, axis=0)) > 0.04) & ~pre.cuts.down
    uncut_x = (np.abs(np.diff(d, axis=1)) > 0.04) & ~pre.cuts.right
    assert not uncut_y.any() and not uncut_x.any()
    # What linked neighbours still span over the descent (a rubber sheet: all 0.4) is small.
    linked = np.abs(np.diff(d[top:], axis=0))
    linked[pre.cuts.down[top:]] = 0.0
    assert linked.sum(axis=0).max() <= 0.1
