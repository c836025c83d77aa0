"""pipeline.io.atomic: a write replaces the file whole or not at all, and leaves no temporary
file behind either way."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from pipeline.io import atomic
from pipeline.io.atomic import atomic_write, rename_into_place, write_json_atomic

POSIX_MODES = pytest.mark.skipif(not hasattr(os, "fchmod"), reason="file modes are POSIX-only")


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_bytes_replace_the_old_file(tmp_path: Path):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert _names(tmp_path) == ["a.bin"]


def test_a_writer_gets_the_open_binary_file(tmp_path: Path):
    target = tmp_path / "a.npy"  # np.save on a bare path would append .npy to a temp name
    atomic_write(target, lambda f: np.save(f, np.arange(3)))
    np.testing.assert_array_equal(np.load(target), np.arange(3))
    assert _names(tmp_path) == ["a.npy"]


@pytest.mark.parametrize("error", [ValueError("bad data"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path: Path, error):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def half_then_fail(f) -> None:
        f.write(b"half")
        raise error

    with pytest.raises(type(error)):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["a.bin"]


def test_a_failed_write_of_a_new_file_leaves_nothing(tmp_path: Path):
    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "new.bin", lambda f: (_ for _ in ()).throw(RuntimeError()))
    assert _names(tmp_path) == []


def test_a_failed_rename_keeps_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch):
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def refuse(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"
    assert _names(tmp_path) == ["a.bin"]


def test_the_folder_must_exist(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        atomic_write(tmp_path / "missing" / "a.bin", b"x")
    assert _names(tmp_path) == []


def test_temporary_names(tmp_path: Path, monkeypatch):
    seen: list[str] = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(atomic.os, "replace", spy)
    atomic_write(tmp_path / "tex.png", b"x")
    write_json_atomic(tmp_path / "summary.json", {})
    # ".part" where cleanup code looks for it; the summary's temporary is hidden.
    assert seen[0].startswith("tex.png.") and seen[0].endswith(".part")
    assert seen[1].startswith(".summary.json.") and seen[1].endswith(".tmp")


@POSIX_MODES
def test_new_files_get_ordinary_permissions(tmp_path: Path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "shared.bin", b"x")
        atomic_write(tmp_path / "private.bin", b"x", mode=None)
        atomic_write(tmp_path / "exec.sh", b"x", mode=0o777)
    finally:
        os.umask(old)
    # Not mkstemp's private 0600: a farm's other users read the outputs.
    assert (tmp_path / "shared.bin").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "private.bin").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "exec.sh").stat().st_mode & 0o777 == 0o755


@POSIX_MODES
def test_permissions_follow_the_umask(tmp_path: Path):
    old = os.umask(0o077)
    try:
        atomic_write(tmp_path / "a.bin", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o600


def test_json_is_indented_and_ends_with_a_newline(tmp_path: Path):
    target = tmp_path / "s.json"
    write_json_atomic(target, {"a": [1, 2], "é": None})
    text = target.read_text(encoding="utf-8")
    assert text == json.dumps({"a": [1, 2], "é": None}, indent=2) + "\n"


def test_rename_retries_while_the_target_is_held(tmp_path: Path, monkeypatch):
    # What Windows does while another process has the file open; simulated on any system.
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(b"new")
    calls: list[int] = []
    real_replace = os.replace

    def busy_twice(a, b):
        calls.append(1)
        if len(calls) < 3:
            raise PermissionError(13, "in use")
        real_replace(a, b)

    monkeypatch.setattr(atomic, "_REPLACE_ATTEMPTS", 5)
    monkeypatch.setattr(atomic.time, "sleep", lambda s: None)
    monkeypatch.setattr(atomic.os, "replace", busy_twice)
    rename_into_place(src, dst)
    assert dst.read_bytes() == b"new" and len(calls) == 3

    calls.clear()
    src.write_bytes(b"again")
    monkeypatch.setattr(atomic, "_REPLACE_ATTEMPTS", 2)
    with pytest.raises(PermissionError):
        rename_into_place(src, dst)
    assert len(calls) == 2
