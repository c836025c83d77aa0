"""The worker process and its client: protocol, results, errors, crashes, cancel, cleanup."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from pipeline.mesh_data import MeshData
from pipeline.worker_client import State, WorkerJob, build_job, run_probe, worker_pythonpath

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
    mesh = MeshData.load_npz(job.result["result"]).check()
    assert mesh.triangle_count == job.result["triangles"] > 0
    assert mesh.texture.shape[:2] == (288, 384)
    assert job.first_progress_at >= job.started_at > 0
    assert not job.alive
    # Only the result remains in the temp folder; release() removes it.
    assert sorted(p.name for p in job.temp_dir.iterdir()) == ["job.json", "result.npz"]
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
