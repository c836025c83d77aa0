"""Everything that differs between the Blender versions the manifest promises (4.2 LTS and
later), in one place: callers never test for attributes themselves.

What differs, and from which version (measured with the bpy wheels 4.2.23, 4.4.0, 4.5.15,
5.0.1 and 5.3.0):

- Actions: 4.2-4.3 keep F-curves in ``Action.fcurves``. 4.4 introduced layered actions (slots,
  layers, keyframe strips, channelbags); 5.0 removed ``Action.fcurves`` and added the helpers
  ``bpy_extras.anim_utils.action_ensure_channelbag_for_slot`` (absent on 4.4/4.5). The layered
  path below builds the channelbag by hand, which is what that helper does, so one code path
  serves 4.4 to 5.x. ``ActionKeyframeStrip.channelbag(None)`` crashes 4.4: never pass a
  missing slot.
- Node trees: new materials and worlds have no node tree on 4.2-4.5 (``use_nodes`` False) and
  one on 5.0+; ``use_nodes`` is deprecated and goes in 6.0, so it is set only where the tree
  is missing.
- Video output: 5.0 added ``ImageFormatSettings.media_type``, which must be chosen before
  ``file_format = 'FFMPEG'`` is accepted; earlier versions have no such setting.
- Sequencer: 4.4 added ``SequenceEditor.strips``; 4.2-4.3 have only ``sequences``, which 5.0
  removed.
"""

from __future__ import annotations

from typing import Any

import bpy

VERSION: tuple[int, int, int] = tuple(bpy.app.version)  # type: ignore[assignment]
LAYERED_ACTIONS = VERSION >= (4, 4, 0)
MEDIA_TYPE = VERSION >= (5, 0, 0)
SEQUENCER_STRIPS = VERSION >= (4, 4, 0)


def new_fcurves(owner: Any, action: Any) -> Any:
    """Assign the empty ``action`` to ``owner`` and return the collection to create its
    F-curves in (``.new(data_path, index=...)``)."""
    anim = owner.animation_data_create()
    anim.action = action
    if not LAYERED_ACTIONS:
        return action.fcurves
    slot = anim.action_slot
    if slot is None:
        slot = action.slots.new(id_type=owner.id_type, name=owner.name)
        anim.action_slot = slot
    layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
    strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
    return strip.channelbag(slot, ensure=True).fcurves


def fcurves_of(owner: Any) -> list[Any]:
    """The F-curves of the action assigned to ``owner`` (for the slot ``owner`` uses)."""
    anim = owner.animation_data
    if anim is None or anim.action is None:
        return []
    action = anim.action
    if not LAYERED_ACTIONS:
        return list(action.fcurves)
    slot = anim.action_slot
    if slot is None or not len(action.layers):
        return []
    for strip in action.layers[0].strips:
        bag = strip.channelbag(slot)
        if bag is not None:
            return list(bag.fcurves)
    return []


def node_tree(owner: Any) -> Any:
    """The node tree of a material or world, created if it has none yet (4.2-4.5)."""
    if owner.node_tree is None:
        owner.use_nodes = True
    return owner.node_tree


def set_media_type(settings: Any, media_type: str) -> None:
    """Pick IMAGE or VIDEO output before choosing a file format (5.0+; a no-op before)."""
    if MEDIA_TYPE:
        settings.media_type = media_type


def sequencer_strips(editor: Any) -> Any:
    """The top-level strips of a scene's sequence editor."""
    return editor.strips if SEQUENCER_STRIPS else editor.sequences
