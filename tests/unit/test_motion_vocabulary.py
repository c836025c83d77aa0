"""pipeline.motion's vocabulary (one source for the UI's enum items and the pipeline's ids)
and the Ken Burns planner's depth-edge threshold (the photo's own, not a copy)."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import SettingsError
from pipeline.motion import (
    AUTO_EASING,
    DEFAULT_AMPLITUDES,
    EASING_ITEMS,
    EASINGS,
    MAX_AMPLITUDES,
    PIVOT_ITEMS,
    PIVOTS,
    PRESET_ITEMS,
    PRESETS,
    ease,
    make_trajectory,
    plan_ken_burns,
)
from pipeline.settings import PipelineSettings


@pytest.mark.parametrize("items", [PRESET_ITEMS, EASING_ITEMS, PIVOT_ITEMS])
def test_items_are_enum_triples_with_unique_ids(items):
    assert all(len(item) == 3 and all(isinstance(s, str) and s for s in item) for item in items)
    ids = [item[0] for item in items]
    assert len(ids) == len(set(ids))


def test_ids_come_from_the_items():
    assert PRESETS == tuple(i[0] for i in PRESET_ITEMS)
    assert PIVOTS == tuple(i[0] for i in PIVOT_ITEMS)
    # AUTO is the UI's "let the preset choose" (easing=None), not a curve.
    assert EASINGS == tuple(i[0] for i in EASING_ITEMS if i[0] != AUTO_EASING)
    assert AUTO_EASING in (i[0] for i in EASING_ITEMS)
    for easing in EASINGS:
        ease(np.linspace(0, 1, 5), easing)


def test_every_preset_has_its_amplitudes():
    assert set(DEFAULT_AMPLITUDES) == set(MAX_AMPLITUDES) == set(PRESETS)
    assert all(0 < DEFAULT_AMPLITUDES[p] <= MAX_AMPLITUDES[p] for p in PRESETS)


def _step_photo() -> np.ndarray:
    # A near subject on the left; its right edge jumps by 0.6 of the normalised disparity.
    disp = np.full((60, 90), 0.4)
    disp[15:45, 10:40] = 1.0
    return disp


def test_ken_burns_threshold_defaults_to_the_pipeline_setting():
    disp = _step_photo()
    default = plan_ken_burns(disp, focus_depth=2.0)
    same = plan_ken_burns(disp, focus_depth=2.0, depth_threshold=PipelineSettings.depth_threshold)
    assert default == same
    assert default.cost > 0.0


def test_ken_burns_sees_only_edges_above_the_photos_threshold():
    disp = _step_photo()
    # A photo torn only at jumps above 0.7 has no edge here: nothing opens, any way is free.
    plan = plan_ken_burns(disp, focus_depth=2.0, depth_threshold=0.7)
    assert plan.cost == 0.0 and plan.largest_gap_px == 0.0
    lenient = make_trajectory(
        "KEN_BURNS", 10, loop=False, focus_depth=2.0, disparity=disp, depth_threshold=0.7
    )
    strict = make_trajectory("KEN_BURNS", 10, loop=False, focus_depth=2.0, disparity=disp)
    np.testing.assert_allclose(lenient.locations[-1], plan.translation)
    assert not np.allclose(lenient.locations[-1], strict.locations[-1])


@pytest.mark.parametrize("bad", [0.0, -0.1, 2.0, float("nan"), True])
def test_make_trajectory_checks_the_threshold(bad):
    with pytest.raises(SettingsError, match="depth_threshold"):
        make_trajectory("SWING", 10, depth_threshold=bad)
