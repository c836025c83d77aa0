"""Pipeline jobs in the worker process, as Blender starts them: the preferences' device and
model folder, the extension's depth cache and vendored environment, online access; waiting
for one in the foreground (background mode, scripts, the batch). The operators' modal
machinery is operators.jobs."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

import bpy

from .extension import model_folder, preferences, user_dir, vendor_folder

if TYPE_CHECKING:
    from ..pipeline.runtime.worker_client import WorkerJob


# Set from any thread to stop a synchronous job (background mode has no Esc key).
cancel_event = threading.Event()


# The most recent job (tests check that a cancelled one's process is gone).
last_job: "WorkerJob | None" = None


# The last finished job's "done" message (timings, depth-cache hits/misses): for tests and
# the benchmark.
last_result: dict[str, Any] = {}


def offline_hint(job: "WorkerJob") -> str:
    if job.error_kind == "ModelError" and not bpy.app.online_access:
        return (
            " Online access is off (Preferences > System > Network): allow it to download "
            "models, or put the files into the model folder."
        )
    return ""


def wait_sync(job: "WorkerJob", prefix: str = "[oneshot3d]") -> None:
    """Wait for a started job in the foreground (background mode, scripts, the batch): progress
    lines to the console; ``cancel_event``, Ctrl-C or any error ends the child first. The
    client's watchdog fails a job whose worker stays silent (stopped or hung)."""
    cancel_event.clear()
    last = [""]

    def report(progress: Any) -> None:
        if progress.message != last[0]:
            last[0] = progress.message
            print(f"{prefix} {100 * progress.fraction:3.0f}% {progress.message}", flush=True)

    job.wait(report, stop=cancel_event.is_set)


def pipeline_job(
    context: bpy.types.Context,
    keywords: dict[str, Any],
    network_backend: bool,
    model_dir: str | None = None,
    device: str | None = None,
    stall_timeout: float | None = None,
) -> "WorkerJob":
    """A worker job that builds ``keywords`` (PipelineSettings fields) with the preferences'
    device and model folder (``model_dir`` / ``device`` override them: the batch's
    --model-dir / --device), the extension's depth cache and vendored environment.
    ``stall_timeout``: the watchdog's limit (None = ``$ONESHOT3D_WORKER_TIMEOUT`` or 120 s)."""
    from ..pipeline.runtime.worker_client import build_job
    from ..pipeline.settings import PipelineSettings

    prefs = preferences(context)
    models = model_folder(context)
    keywords = dict(keywords)
    keywords["model_dir"] = model_dir or str(models)
    keywords["device"] = device or (prefs.device.lower() if prefs is not None else "cpu")
    PipelineSettings.from_keywords(keywords)  # fail fast, in Blender, with the settings' message
    env = {}
    fault = os.environ.get("ONESHOT3D_WORKER_FAULT")
    if fault:
        env["ONESHOT3D_WORKER_FAULT"] = fault
    return build_job(
        keywords,
        vendor_dir=vendor_folder(),
        depth_cache_dir=user_dir() / "depth",
        model_cache_dir=models,
        allow_download=bool(bpy.app.online_access) and network_backend,
        env=env,
        stall_timeout=stall_timeout,
    )
