"""Install the built extension zip into a Blender user folder, then run the headless import.

    python scripts/install_and_run.py PHOTO [oneshot3d.py options]

The Blender user folder defaults to ``out/blender-user`` so nothing is written to your home
folder; set BLENDER_USER_RESOURCES to use another.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def platform_zip() -> Path:
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}[
        platform.machine().lower()
    ]
    system = {"linux": "linux", "darwin": "macos", "windows": "windows"}[platform.system().lower()]
    found = sorted((ROOT / "dist").glob(f"oneshot3d-*-{system}_{machine}.zip"))
    if not found:
        sys.exit("No extension zip in dist/: run scripts/build_extension.py first")
    return found[-1]


def main() -> int:
    os.environ.setdefault("BLENDER_USER_RESOURCES", str(ROOT / "out" / "blender-user"))
    os.environ.setdefault("XDG_CACHE_HOME", str(ROOT / "out" / "cache"))
    import bpy

    result = bpy.ops.extensions.package_install_files(
        repo="user_default", filepath=str(platform_zip()), enable_on_install=True
    )
    if result != {"FINISHED"}:
        sys.exit("installing the extension failed")
    print("installed", platform_zip().name, "into", os.environ["BLENDER_USER_RESOURCES"])
    sys.path.insert(0, str(ROOT / "scripts"))
    import oneshot3d

    return oneshot3d.main()


if __name__ == "__main__":
    sys.exit(main())
