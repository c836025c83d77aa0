"""The import operator at the ends of its sliders (Blender keeps them as 32-bit floats) and with
photos too small for a 3D photo, in real Blender."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

pytestmark = pytest.mark.blender


def _ext(installed_extension, name: str):
    import importlib

    return importlib.import_module(f"{installed_extension.__name__}.{name}")


def _small_sample(tmp_path: Path, sample_photo: Path, sample_depth: Path) -> tuple[Path, Path]:
    photo = cv2.resize(cv2.imread(str(sample_photo)), (256, 192), interpolation=cv2.INTER_AREA)
    depth = cv2.resize(np.load(sample_depth), (256, 192), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "small.png"), photo)
    np.save(tmp_path / "small.npy", depth)
    return tmp_path / "small.png", tmp_path / "small.npy"


def _float_settings(installed_extension) -> dict[str, tuple[float, float]]:
    settings = _ext(installed_extension, "pipeline.settings")
    return {
        name: settings.RANGES[name]
        for name in settings.PHOTO_SETTINGS
        if settings.field_type(name) == "float"
    }


def test_slider_limits_are_the_pipelines_ranges(installed_extension) -> None:
    import bpy

    floats = _float_settings(installed_extension)
    assert {"extension", "context_band", "simplify_tolerance", "depth_scale"} <= set(floats)
    for rna in (
        bpy.ops.oneshot3d.import_photo.get_rna_type(),
        bpy.types.Object.bl_rna.properties["oneshot3d"].fixed_type,
    ):
        for name, (lo, hi) in floats.items():
            prop = rna.properties[name]
            assert prop.hard_min == np.float32(lo) and prop.hard_max == np.float32(hi), name


@pytest.mark.parametrize("end", [0, 1])
def test_import_at_every_sliders_end(
    empty_scene, installed_extension, tmp_path, sample_photo, sample_depth, end
) -> None:
    """All float settings at their lower (or upper) ends at once: Blender hands the operator
    float32 values (0.3 -> 0.30000001192...), and the import must still finish."""
    import bpy

    photo, depth = _small_sample(tmp_path, sample_photo, sample_depth)
    ends = {name: r[end] for name, r in _float_settings(installed_extension).items()}
    result = bpy.ops.oneshot3d.import_photo(
        filepath=str(photo), depth_filepath=str(depth), depth_kind="DEPTH", **ends
    )
    assert result == {"FINISHED"}
    mesh_obj = next(o for o in bpy.data.objects if o.type == "MESH")
    assert len(mesh_obj.data.polygons) > 0
    props = mesh_obj.oneshot3d
    stored = {name: getattr(props, name) for name in ends}
    # The values really went through float32: at least one end is not exactly representable.
    assert any(stored[name] != ends[name] for name in ends)
    for name, value in stored.items():
        assert value == pytest.approx(ends[name], rel=1e-6), name
    # And the stored settings validate again (what Rebuild does with them).
    properties = _ext(installed_extension, "panels.properties")
    settings = _ext(installed_extension, "pipeline.settings")
    settings.PipelineSettings.from_keywords(properties.settings_dict(props))


def _counts():
    import bpy

    return {
        kind: len(getattr(bpy.data, kind))
        for kind in ("objects", "meshes", "images", "materials", "cameras", "collections")
    }


@pytest.mark.parametrize("size", [(1, 1), (2, 40), (40, 2)])
def test_too_small_photo_is_refused_and_leaves_nothing(
    empty_scene, installed_extension, tmp_path, size
) -> None:
    import bpy

    w, h = size
    photo = tmp_path / f"tiny_{w}x{h}.png"
    cv2.imwrite(str(photo), np.full((h, w, 3), 128, np.uint8))
    depth = tmp_path / "tiny.npy"
    np.save(depth, np.full((h, w), 2.0, np.float32))
    before = _counts()
    with pytest.raises(RuntimeError, match=rf"{w}x{h} pixels: a 3D photo needs at least 16x16"):
        bpy.ops.oneshot3d.import_photo(
            filepath=str(photo), depth_filepath=str(depth), depth_kind="DEPTH"
        )
    assert _counts() == before
    assert not any(m.users == 0 for m in bpy.data.meshes)
