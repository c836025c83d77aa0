"""Install dependencies from a local wheel folder into the (temporary) extension user folder,
then the worker can import them; Status and Remove; the online-access gate."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from helpers import make_wheel

pytestmark = pytest.mark.blender


def test_install_from_local_wheels_status_and_remove(empty_scene, installed_extension, tmp_path):
    import bpy

    ops = importlib.import_module(f"{installed_extension.__name__}.blender.extension")
    vendor = importlib.import_module(f"{installed_extension.__name__}.pipeline.runtime.vendor")
    client = importlib.import_module(
        f"{installed_extension.__name__}.pipeline.runtime.worker_client"
    )
    user = ops.user_dir()
    assert str(user).startswith(bpy.utils.resource_path("USER"))  # the temp user folder
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "oneshot3d_tinydep", "0.3.1")
    site_before = sorted(Path(p).name for p in sys.path)
    result = bpy.ops.oneshot3d.install_dependencies(
        packages="oneshot3d_tinydep", find_links=str(wheels), no_index=True
    )
    assert result == {"FINISHED"}
    status = vendor.status(user)
    assert status.packages == {"oneshot3d-tinydep": "0.3.1"}
    assert not vendor.staging_dir(user).exists()
    # Importable by the worker (through the vendored folder), not in Blender's process.
    assert ops.vendor_folder() == vendor.vendor_dir(user)
    info = client.run_probe(["oneshot3d_tinydep"], vendor_dir=ops.vendor_folder())
    assert info["oneshot3d_tinydep"] == "0.3.1"
    assert "oneshot3d_tinydep" not in sys.modules
    assert sorted(Path(p).name for p in sys.path) == site_before
    # Status fills the preferences' status line.
    assert bpy.ops.oneshot3d.dependency_status() == {"FINISHED"}
    prefs = bpy.context.preferences.addons[installed_extension.__name__].preferences
    assert "devices: cpu" in prefs.status_text
    assert bpy.ops.oneshot3d.remove_dependencies() == {"FINISHED"}
    assert not vendor.status(user).installed and ops.vendor_folder() is None


def test_install_picks_wheels_for_blenders_own_python(empty_scene, installed_extension, tmp_path):
    """torch ships one wheel per Python (cp311 for Blender 4.2-5.0, cp313 for 5.1+): pip runs
    with Blender's interpreter, so it must take the one for that Python, whichever it is."""
    import bpy

    vendor = importlib.import_module(f"{installed_extension.__name__}.pipeline.runtime.vendor")
    ops = importlib.import_module(f"{installed_extension.__name__}.blender.extension")
    wheels = tmp_path / "wheels"
    for minor in (11, 12, 13, 14):
        make_wheel(wheels, "oneshot3d_fakeabi", f"3.{minor}", tag=f"cp3{minor}-none-any")
    result = bpy.ops.oneshot3d.install_dependencies(
        packages="oneshot3d_fakeabi", find_links=str(wheels), no_index=True
    )
    assert result == {"FINISHED"}
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert vendor.status(ops.user_dir()).packages == {"oneshot3d-fakeabi": ours}
    assert bpy.ops.oneshot3d.remove_dependencies() == {"FINISHED"}


def test_failed_install_leaves_no_environment(empty_scene, installed_extension, tmp_path):
    import bpy

    vendor = importlib.import_module(f"{installed_extension.__name__}.pipeline.runtime.vendor")
    ops = importlib.import_module(f"{installed_extension.__name__}.blender.extension")
    with pytest.raises(RuntimeError, match="oneshot3d-no-such"):
        bpy.ops.oneshot3d.install_dependencies(
            packages="oneshot3d-no-such", find_links=str(tmp_path), no_index=True
        )
    assert not vendor.staging_dir(ops.user_dir()).exists()
    assert not vendor.status(ops.user_dir()).installed


def test_install_is_gated_on_online_access(empty_scene):
    import bpy

    if bpy.app.online_access:
        pytest.skip("online access is on here; the gate only applies when it is off")
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.oneshot3d.install_dependencies()
    with pytest.raises(RuntimeError, match="Online access is off"):
        bpy.ops.oneshot3d.download_model(model="depth_anything_v2_vits")
