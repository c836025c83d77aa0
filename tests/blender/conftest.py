"""Real Blender (the bpy module): the extension is built with Blender's own tool and installed
the way Blender installs it, once per test session."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _platform_tag() -> str:
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]
    system = {"linux": "linux", "darwin": "macos", "windows": "windows"}[platform.system().lower()]
    return f"{system}_{machine}"


@pytest.fixture(scope="session")
def extension_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "build_extension.py"), "--output-dir", str(out)],
        check=True,
    )
    zips = list(out.glob(f"oneshot3d-*-{_platform_tag()}.zip"))
    assert len(zips) == 1, sorted(p.name for p in out.iterdir())
    return zips[0]


@pytest.fixture(scope="session")
def installed_extension(extension_zip: Path):
    """The extension installed into Blender's user repository and enabled."""
    import bpy

    assert os.environ["BLENDER_USER_RESOURCES"] in bpy.utils.resource_path("USER")
    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=str(extension_zip), enable_on_install=True
    )
    assert result == {"FINISHED"}
    assert hasattr(bpy.types, "ONESHOT3D_OT_import_photo")
    return sys.modules["bl_ext.user_default.oneshot3d"]


@pytest.fixture
def empty_scene(installed_extension):
    import bpy

    bpy.ops.wm.read_factory_settings(use_empty=True)
    # read_factory_settings resets preferences too; the installed extension stays enabled.
    if not hasattr(bpy.types, "ONESHOT3D_OT_import_photo"):
        import addon_utils

        addon_utils.enable("bl_ext.user_default.oneshot3d", default_set=True)
    return bpy.context.scene
