"""The words of camera motion: presets, easings, pivots and amplitude units, with the labels
and descriptions the UI shows for them, and each preset's default and largest amplitude.

The ``*_ITEMS`` tuples are ``(id, label, description)``, the shape Blender's EnumProperty
takes, but plain tuples: this module never imports bpy, so the panels and operators read
their enum items from here and the pipeline validates against the same ids (one source of
truth for both sides).
"""

from __future__ import annotations

EnumItems = tuple[tuple[str, str, str], ...]

PRESET_ITEMS: EnumItems = (
    ("SWING", "Swing", "Side to side; the subject stays put while the background slides"),
    ("VERTICAL", "Vertical", "Up and down"),
    ("CIRCLE", "Circle", "The camera circles around the view axis"),
    ("ZOOM_IN", "Zoom In", "Dolly forward towards the subject"),
    ("DOLLY_ZOOM", "Dolly Zoom", "Move in while the lens widens: the 'vertigo' effect"),
    ("KEN_BURNS", "Ken Burns", "Travel and zoom towards the most salient near region"),
    ("CUSTOM", "Custom", "Interpolate user keyframes (given as JSON)"),
)
# "AUTO" is a UI choice only: the operator turns it into easing=None, which make_trajectory
# resolves per preset. It is therefore not one of EASINGS, the curves ease() knows.
AUTO_EASING = "AUTO"
EASING_ITEMS: EnumItems = (
    (AUTO_EASING, "Auto", "Linear for looping swings and circles and for Custom, else ease in/out"),
    ("LINEAR", "Linear", "Constant speed"),
    ("EASE_IN", "Ease In", "Start slowly"),
    ("EASE_OUT", "Ease Out", "Stop slowly"),
    ("EASE_IN_OUT", "Ease In and Out", "Start and stop slowly"),
)
PIVOT_ITEMS: EnumItems = (
    ("ROTATE", "Rotate", "The camera turns to keep looking at the focus point"),
    (
        "SHIFT",
        "Lens Shift",
        "The camera keeps its orientation; a lens shift keeps the focus plane fixed",
    ),
    ("NONE", "None", "Pure translation"),
)

# The ids the pipeline accepts, derived from the items so the two never drift apart.
PRESETS: tuple[str, ...] = tuple(item[0] for item in PRESET_ITEMS)
EASINGS: tuple[str, ...] = tuple(item[0] for item in EASING_ITEMS if item[0] != AUTO_EASING)
PIVOTS: tuple[str, ...] = tuple(item[0] for item in PIVOT_ITEMS)
AMPLITUDE_UNITS = ("FRACTION", "DEGREES")

# Fraction of the focus distance. SWING/VERTICAL/CIRCLE/KEN_BURNS: sideways travel (half the
# peak-to-peak swing, the circle's radius); ZOOM_IN: how far the camera moves forward;
# DOLLY_ZOOM: how far behind the rest position the move starts (the lens starts at 1 + a and
# ends at 1, so the frame never widens past the photo). VERTICAL is smaller than SWING because
# a landscape photo has less room vertically.
DEFAULT_AMPLITUDES: dict[str, float] = {
    "SWING": 0.04,
    "VERTICAL": 0.025,
    "CIRCLE": 0.03,
    "ZOOM_IN": 0.10,
    "DOLLY_ZOOM": 0.12,
    "KEN_BURNS": 0.04,
    "CUSTOM": 1.0,  # keyframe locations are scaled by amplitude; 1 = as keyed
}
# Beyond these the path leaves any sensible range (ZOOM_IN would pass the subject).
MAX_AMPLITUDES: dict[str, float] = {
    "SWING": 1.0,
    "VERTICAL": 1.0,
    "CIRCLE": 1.0,
    "ZOOM_IN": 0.9,
    "DOLLY_ZOOM": 4.0,
    "KEN_BURNS": 1.0,
    "CUSTOM": 100.0,
}
LATERAL_PRESETS = ("SWING", "VERTICAL", "CIRCLE", "KEN_BURNS")
# Periodic paths loop by going round; the others loop by going there and back (ping-pong).
PERIODIC_PRESETS = ("SWING", "VERTICAL", "CIRCLE")
