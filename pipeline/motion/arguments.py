"""Reading make_trajectory's arguments: choices, numbers in range, and amplitudes (their
units, defaults and limits). Every failure is a SettingsError whose message says what to give
instead, since these arguments come straight from users (UI, command line, farm jobs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import SettingsError
from .vocabulary import DEFAULT_AMPLITUDES, LATERAL_PRESETS, MAX_AMPLITUDES


def parallax_to_amplitude(degrees: float) -> float:
    """Degrees of parallax (camera swing around the focus point) -> fraction of the distance."""
    return math.tan(math.radians(degrees))


def amplitude_to_parallax(amplitude: float) -> float:
    return math.degrees(math.atan(amplitude))


def check_choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    """``value`` upper-cased when it is one of ``choices`` (any case), else SettingsError."""
    if not isinstance(value, str) or value.upper() not in choices:
        raise SettingsError(f"{name} = {value!r}: must be one of {', '.join(choices)}.")
    return value.upper()


def check_positive(name: str, value: Any, unit: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float, np.floating, np.integer))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise SettingsError(f"{name} = {value!r}: must be a positive number ({unit}).")


def check_range(name: str, value: Any, lo: float, hi: float) -> None:
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float, np.floating, np.integer))
        and math.isfinite(value)
        and lo <= value <= hi
    )
    if not ok:
        raise SettingsError(f"{name} = {value!r}: must be a number from {lo:g} to {hi:g}.")


def resolve_amplitude(preset: str, amplitude: float | None, unit: str) -> float:
    """The amplitude as a fraction of the focus distance: the preset's default for None,
    degrees of parallax converted (sideways presets only), checked against the preset's
    largest sensible value."""
    if amplitude is None:
        return DEFAULT_AMPLITUDES[preset]
    if (
        isinstance(amplitude, bool)
        or not isinstance(amplitude, (int, float, np.floating, np.integer))
        or not math.isfinite(amplitude)
    ):
        raise SettingsError(f"amplitude = {amplitude!r}: must be a number.")
    if unit == "DEGREES":
        if preset not in LATERAL_PRESETS:
            raise SettingsError(
                f"amplitude_unit = DEGREES only applies to sideways presets "
                f"({', '.join(LATERAL_PRESETS)}); give {preset} as a fraction of the distance."
            )
        if not 0.0 < amplitude < 45.0:
            raise SettingsError(
                f"amplitude = {amplitude!r} degrees of parallax: must be between 0 and 45."
            )
        amplitude = parallax_to_amplitude(float(amplitude))
    hi = MAX_AMPLITUDES[preset]
    if not 0.0 < amplitude <= hi:
        raise SettingsError(
            f"amplitude = {amplitude!r}: for {preset} must be above 0 and at most {hi:g} "
            f"(a fraction of the focus distance; the default is {DEFAULT_AMPLITUDES[preset]:g})."
        )
    return float(amplitude)
