"""Shared test set-up. Blender's user folders point at a temporary directory *before* any test
imports bpy, so tests never write to the home folder."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
SAMPLES = ROOT / "samples"

_user = tempfile.mkdtemp(prefix="oneshot3d-test-user-")
# Installed extensions with their wheels make this a few hundred MB per run: never leave it.
atexit.register(shutil.rmtree, _user, ignore_errors=True)
os.environ["BLENDER_USER_RESOURCES"] = os.path.join(_user, "blender")
os.environ["XDG_CACHE_HOME"] = os.path.join(_user, "cache")
os.environ.setdefault("ONESHOT3D_CACHE_DIR", os.path.join(_user, "oneshot3d-cache"))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE


@pytest.fixture(scope="session")
def sample_photo() -> Path:
    return SAMPLES / "sample.png"


@pytest.fixture(scope="session")
def sample_depth() -> Path:
    return SAMPLES / "sample_depth.npy"
