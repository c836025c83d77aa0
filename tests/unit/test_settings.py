"""PipelineSettings: every tunable has a range; out-of-range values raise clear errors."""

from __future__ import annotations

import dataclasses
import math

import pytest

from pipeline.errors import SettingsError
from pipeline.settings import RULES, PipelineSettings


def test_defaults_are_valid() -> None:
    PipelineSettings().validate()


def test_every_field_has_a_rule() -> None:
    assert {f.name for f in dataclasses.fields(PipelineSettings)} == set(RULES)


@pytest.mark.parametrize(
    "name,value",
    [
        ("depth_threshold", 0.0),
        ("depth_threshold", 2.0),
        ("depth_threshold", math.nan),
        ("depth_scale", -1.0),
        ("depth_scale", math.inf),
        ("fov", 0.5),
        ("fov", 180.0),
        ("depth_kind", "METRES"),
        ("depth_threshold", "0.04"),
        ("device", "tpu"),
    ],
)
def test_out_of_range_names_the_setting(name: str, value: object) -> None:
    with pytest.raises(SettingsError, match=name):
        PipelineSettings.from_keywords({name: value})


def test_from_keywords_ignores_blender_only_keys() -> None:
    s = PipelineSettings.from_keywords(
        {"depth_threshold": 0.1, "material": "EMISSION", "filter_glob": "*"}
    )
    assert s.depth_threshold == 0.1


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(SettingsError) as info:
        PipelineSettings.from_keywords({"depth_threshold": 5.0, "fov": 500.0})
    assert "depth_threshold" in str(info.value) and "fov" in str(info.value)
