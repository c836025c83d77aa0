"""The worker watchdog from Blender: a worker stopped with SIGSTOP (not crashed) must not hang
a scripted import or a batch; it is ended after the configured time, its job folder removed,
and the error says what happened."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time

import pytest

pytestmark = [
    pytest.mark.blender,
    pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="SIGSTOP is POSIX-only"),
]


def counts():
    import bpy

    return tuple(len(c) for c in (bpy.data.objects, bpy.data.meshes, bpy.data.images))


def stop_next_worker(
    op_module, after_stage: tuple[str, ...], stopped: list[int]
) -> threading.Thread:
    """A thread that SIGSTOPs the next worker job once it reports one of ``after_stage``."""
    old = op_module.last_job

    def run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job = op_module.last_job
            if job is not old and job is not None and job.pid and job.progress.stage in after_stage:
                os.kill(job.pid, signal.SIGSTOP)
                stopped.append(job.pid)
                return
            time.sleep(0.02)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def reap(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)  # never leave a stopped child behind if a test fails
        except ProcessLookupError:
            pass


def test_stopped_worker_does_not_hang_a_scripted_import(
    empty_scene, installed_extension, sample_photo, sample_depth, monkeypatch
):
    import bpy

    monkeypatch.setenv("ONESHOT3D_WORKER_TIMEOUT", "3")
    monkeypatch.setenv("ONESHOT3D_WORKER_FAULT", "slow")
    op_module = sys.modules[f"{installed_extension.__name__}.blender.worker_jobs"]
    before = counts()
    stopped: list[int] = []
    thread = stop_next_worker(op_module, ("depth", "preprocess", "ldi"), stopped)
    t0 = time.monotonic()
    try:
        with pytest.raises(RuntimeError, match="no sign of life") as info:
            bpy.ops.oneshot3d.import_photo(
                filepath=str(sample_photo), depth_filepath=str(sample_depth), depth_kind="DEPTH"
            )
    finally:
        thread.join(timeout=5)
        reap(stopped)
    assert stopped, "the worker was never stopped"
    assert time.monotonic() - t0 < 60
    assert "stopped or hung" in str(info.value) and "Traceback" not in str(info.value)
    job = op_module.last_job
    assert job.error_kind == "WorkerStalled" and not job.alive
    with pytest.raises(ProcessLookupError):
        os.kill(stopped[0], 0)  # killed and reaped
    assert not job.temp_dir.exists()
    assert counts() == before
    assert not bpy.context.window_manager.oneshot3d_job.running


def test_stopped_worker_fails_one_photo_and_the_batch_goes_on(
    empty_scene, installed_extension, tmp_path, sample_photo, sample_depth, monkeypatch
):
    import importlib
    import json

    monkeypatch.setenv("ONESHOT3D_WORKER_FAULT", "slow")
    op_module = sys.modules[f"{installed_extension.__name__}.blender.worker_jobs"]
    handler = importlib.import_module(
        f"{installed_extension.__name__}.operators.cli_command"
    ).handler
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.png", "b.png"):
        shutil.copy(sample_photo, photos / name)
    out = tmp_path / "out"
    argv = [str(photos), "-o", str(out), "--depth-dir", str(tmp_path), "--depth-kind", "depth"]
    shutil.copy(sample_depth, tmp_path / "a.npy")
    shutil.copy(sample_depth, tmp_path / "b.npy")
    argv += ["--no-preview", "--mesh-mode", "torn", "--worker-timeout", "3"]
    stopped: list[int] = []
    thread = stop_next_worker(op_module, ("depth", "preprocess", "ldi"), stopped)
    try:
        assert handler(argv) == 1
    finally:
        thread.join(timeout=5)
        reap(stopped)
    assert stopped
    summary = json.loads((out / "summary.json").read_text())
    status = {os.path.basename(p["photo"]): p for p in summary["photos"]}
    assert status["a.png"]["status"] == "failed"
    assert status["a.png"]["error"].startswith("WorkerStalled: ")
    assert status["b.png"]["status"] == "ok"  # the next photo ran normally
    assert summary["complete"] is True
