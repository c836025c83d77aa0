"""The worker process and its client: protocol, results, errors, crashes, cancel, cleanup."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.mesh.mesh_data import MeshData
from pipeline.runtime.worker_client import (
    DEFAULT_STALL_TIMEOUT,
    STALL_TIMEOUT_ENV,
    State,
    WorkerJob,
    build_job,
    default_stall_timeout,
    run_probe,
)
from pipeline.runtime.worker_env import worker_pythonpath

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def sample_settings(**kw) -> dict:
    settings = {
        "filepath": str(SAMPLES / "sample.png"),
        "depth_filepath": str(SAMPLES / "sample_depth.npy"),
        "depth_kind": "DEPTH",
        "mesh_mode": "TORN",
    }
    settings.update(kw)
    return settings


def test_job_runs_to_done_and_result_loads():
    job = build_job(sample_settings()).start()
    seen = []
    assert job.wait(lambda p: seen.append((p.stage, p.fraction))) is State.DONE, job.details()
    assert seen[0][0] == "read" and seen[-1] == ("done", 1.0)
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions)
    mesh = MeshData.load(job.result["result"]).check()
    assert mesh.triangle_count == job.result["triangles"] > 0
    assert mesh.texture.shape[:2] == (288, 384)
    assert job.first_progress_at >= job.started_at > 0
    assert not job.alive
    # Only the result remains in the temp folder; release() removes it.
    assert sorted(p.name for p in job.temp_dir.iterdir()) == ["job.json", "result.mesh"]
    job.release()
    assert not job.temp_dir.exists()


def test_pipeline_error_is_a_readable_report():
    job = build_job(sample_settings(depth_filepath="/nonexistent/depth.npy")).start()
    assert job.wait() is State.FAILED
    assert job.error_kind == "DepthFileError"
    assert "depth.npy" in job.report() and "\n" not in job.report()
    assert "Traceback" not in job.report()
    assert not job.temp_dir.exists()


def test_invalid_settings_fail_with_settings_error():
    job = build_job(sample_settings(depth_threshold=5.0)).start()
    assert job.wait() is State.FAILED
    assert job.error_kind == "SettingsError" and "depth_threshold" in job.error


@pytest.mark.parametrize("fault", ["crash", "exception"])
def test_crash_and_unexpected_error(fault):
    job = build_job(sample_settings(), env={"ONESHOT3D_WORKER_FAULT": fault}).start()
    assert job.wait() is State.FAILED
    if fault == "crash":
        assert job.error_kind == "WorkerCrash" and "exit status 139" in job.error
        assert "simulated crash" in job.details()
    else:
        assert job.error_kind == "RuntimeError" and "simulated unexpected" in job.error
        assert "Traceback" in job.details()  # the console gets the details
    assert "Traceback" not in job.report()
    assert not job.temp_dir.exists()


def test_cancel_mid_run_kills_child_and_removes_temp():
    job = build_job(sample_settings(), env={"ONESHOT3D_WORKER_FAULT": "slow"}).start()
    deadline = time.time() + 60
    while job.progress.stage not in ("depth", "preprocess", "mesh") and time.time() < deadline:
        job.poll()
        time.sleep(0.02)
    assert job.state is State.RUNNING
    pid = job.pid
    job.cancel()
    assert job.state is State.CANCELLED and not job.alive
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # reaped: the process is gone
    assert not job.temp_dir.exists()
    job.cancel()  # idempotent
    assert job.poll() == []


def test_state_machine_without_a_process():
    """poll() parses protocol lines, keeps other lines for the report, never blocks."""
    job = WorkerJob(args=[])
    assert job.poll() == [] and job.state is State.STARTING
    job._lines.put("some library chatter\n")
    job._lines.put(
        json.dumps({"type": "progress", "stage": "depth", "fraction": 0.1, "message": "m"})
    )
    messages = job.poll()
    assert [m["type"] for m in messages] == ["progress"]
    assert job.state is State.RUNNING and job.progress.stage == "depth"
    assert job.stderr_tail() == ["some library chatter"]
    job._lines.put(json.dumps({"type": "error", "kind": "ModelError", "message": "no model\nmore"}))
    job.poll()
    assert job.error_kind == "ModelError" and job.report() == "no model"
    job._finish_from_exit(2)
    assert job.state is State.FAILED
    crashed = WorkerJob(args=[])
    crashed._finish_from_exit(-9)
    assert crashed.state is State.FAILED and "signal 9" in crashed.error


def test_pythonpath_order():
    path = worker_pythonpath("/vendor", ["/a", "", "/a", "/b"], pipeline_parent="/ext")
    assert path == ["/ext", "/vendor", "/a", "/b"]


def test_start_failure_is_reported():
    job = WorkerJob(args=[], python="/nonexistent/python").start()
    assert job.state is State.FAILED and job.error_kind == "WorkerStartError"


def test_probe_reports_versions_and_devices():
    info = run_probe(["json"])
    assert info["numpy"] == np.__version__
    assert "cpu" in info["devices"] and info["json"]


def _wait_for_stage(job: WorkerJob, stages: tuple[str, ...], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while job.progress.stage not in stages and time.monotonic() < deadline:
        job.poll()
        time.sleep(0.02)
    assert job.progress.stage in stages, job.details()


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="SIGSTOP is POSIX-only")
def test_watchdog_ends_a_stopped_worker_and_cleans_up():
    """A real worker, stopped with SIGSTOP mid-job: the client kills it after the limit,
    removes the job folder and says what happened (instead of waiting forever)."""
    job = build_job(
        sample_settings(), env={"ONESHOT3D_WORKER_FAULT": "slow"}, stall_timeout=2.0
    ).start()
    _wait_for_stage(job, ("depth", "preprocess", "ldi", "mesh"))
    pid = job.pid
    os.kill(pid, signal.SIGSTOP)
    stopped_at = time.monotonic()
    try:
        state = job.wait()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)  # never leave a stopped child behind
    waited = time.monotonic() - stopped_at
    assert state is State.FAILED and job.error_kind == "WorkerStalled"
    assert "no sign of life" in job.report() and "stopped or hung" in job.report()
    # Silence counts from the last line, which came at most one heartbeat before the stop.
    assert 1.0 <= waited < 30.0
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    assert not job.temp_dir.exists()


def test_watchdog_spares_a_busy_worker_that_sends_heartbeats():
    """Each step of the 'slow' fault takes 0.4 s and the heartbeat comes every second: a
    limit shorter than the whole job but longer than the heartbeat never fires."""
    job = build_job(
        sample_settings(), env={"ONESHOT3D_WORKER_FAULT": "slow"}, stall_timeout=1.5
    ).start()
    assert job.wait() is State.DONE, job.details()
    assert job.ended_at - job.started_at > 1.5  # the limit was shorter than the job
    job.release()


def test_stall_timeout_default_and_environment(monkeypatch):
    monkeypatch.delenv(STALL_TIMEOUT_ENV, raising=False)
    assert default_stall_timeout() == DEFAULT_STALL_TIMEOUT
    monkeypatch.setenv(STALL_TIMEOUT_ENV, "7.5")
    job = build_job(sample_settings())
    assert job.stall_timeout == 7.5
    job.cleanup()
    monkeypatch.setenv(STALL_TIMEOUT_ENV, "0")
    assert default_stall_timeout() is None
    job = build_job(sample_settings(), stall_timeout=0)
    assert job.stall_timeout is None
    job.cleanup()


def test_heartbeat_lines_while_a_job_runs():
    job = build_job(sample_settings(), env={"ONESHOT3D_WORKER_FAULT": "slow"}).start()
    kinds: list[str] = []
    while not job.state.finished:
        kinds += [m["type"] for m in job.poll()]
        time.sleep(0.05)
    assert job.state is State.DONE, job.details()
    assert "alive" in kinds and kinds[-1] == "done"
    job.release()


ORPHAN_PARENT = """
import json, sys, time
from pipeline.runtime.worker_client import build_job
job = build_job(json.loads(sys.argv[1]), env={"ONESHOT3D_WORKER_FAULT": "slow"}).start()
while job.progress.stage in ("start", "read"):
    job.poll()
    time.sleep(0.02)
print(json.dumps({"pid": job.pid, "temp_dir": str(job.temp_dir)}), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(os.name != "posix", reason="re-parenting of orphans is POSIX behaviour")
def test_worker_whose_parent_is_killed_ends_itself_and_removes_its_folder():
    """A batch shard killed with SIGKILL cannot end its worker or remove the job folder: the
    worker notices (heartbeat: parent gone) and does both itself."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(SAMPLES.parent))
    parent = subprocess.Popen(
        [sys.executable, "-c", ORPHAN_PARENT, json.dumps(sample_settings())],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        info = json.loads(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
    pid, temp_dir = info["pid"], Path(info["temp_dir"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and temp_dir.exists():
        time.sleep(0.1)
    assert not temp_dir.exists()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        os.kill(pid, signal.SIGKILL)
        pytest.fail("the orphaned worker kept running")


def test_poll_waits_for_the_next_line(tmp_path):
    """``wait`` blocks on the line queue instead of sleeping between polls: ``poll(timeout)``
    returns a line that arrives during the wait (the old poll never waited: nothing yet)."""
    (tmp_path / "late_line.py").write_text(
        "import time\n"
        "time.sleep(0.3)\n"
        'print(\'{"type": "progress", "stage": "late", "fraction": 0.5, "message": "m"}\', '
        "flush=True)\n"
        "time.sleep(60)\n"
    )
    job = WorkerJob(args=[], module="late_line", pythonpath=[str(tmp_path)]).start()
    try:
        assert job.poll() == []  # nothing has arrived yet
        t0 = time.monotonic()
        messages = job.poll(timeout=30.0)
        assert [m.get("stage") for m in messages] == ["late"], job.details()
        assert time.monotonic() - t0 < 30.0  # returned with the line, not at the timeout
        assert job.alive
    finally:
        job.cancel()
    assert not job.alive
