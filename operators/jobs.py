"""The machinery every long-running operator shares: run a worker job modally or not.

The pipeline never runs in Blender's process: ``JobOperator`` starts ``pipeline.runtime.worker`` in a
child process (Blender's interpreter, the vendored environment on its path, see
``pipeline.runtime.worker_client``) and

* in the UI (operator invoked from a menu, the file browser or a drop) polls it from a modal
  timer: progress in the status bar and the sidebar, Esc cancels (the child is ended, its temp
  folder removed, nothing is added to the scene);
* in background mode, from scripts (EXEC_DEFAULT) and on redo, waits for the same worker
  synchronously (``cancel_event`` stops it from another thread).

Failures become one-line reports (an ``ERROR`` report makes ``bpy.ops`` raise RuntimeError
with that line, the contract the headless script relies on); the details and the worker's
last lines go to the console.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import bpy

from ..blender import worker_jobs
from ..blender.worker_jobs import offline_hint, wait_sync
from .typing_helpers import OperatorResult

if TYPE_CHECKING:
    from ..pipeline.runtime.worker_client import WorkerJob


class JobOperator:
    """Mixin: run a ``WorkerJob`` modally (UI) or synchronously (background, scripts, redo).

    Subclasses implement ``make_job(context)`` and ``on_done(context, job)`` (which must
    leave nothing half-built when it raises) and may set ``job_title``."""

    job_title = "3D Photo"
    _job = None  # the running WorkerJob
    _timer = None

    def make_job(self, context: bpy.types.Context) -> "WorkerJob":
        raise NotImplementedError

    def on_done(self, context: bpy.types.Context, job: "WorkerJob") -> None:
        raise NotImplementedError

    def run_job(self, context: bpy.types.Context) -> OperatorResult:
        from ..pipeline.errors import PipelineError

        try:
            job = self.make_job(context)
        except (PipelineError, OSError, ValueError) as e:
            self.report({"ERROR"}, str(e))  # type: ignore[attr-defined]
            return {"CANCELLED"}
        self._job = worker_jobs.last_job = job.start()
        state = context.window_manager.oneshot3d_job  # type: ignore[attr-defined]
        state.running, state.fraction, state.message = True, 0.0, job.progress.message
        options = self.options  # type: ignore[attr-defined]
        modal = (
            not bpy.app.background
            and options.is_invoke
            and not options.is_repeat
            and context.window is not None
        )
        if modal:
            wm = context.window_manager
            self._timer = wm.event_timer_add(0.1, window=context.window)
            wm.modal_handler_add(self)  # type: ignore[arg-type]  # a mixin of an Operator
            wm.progress_begin(0, 100)
            self._status(context, job.progress.message)
            return {"RUNNING_MODAL"}
        return self._run_sync(context)

    def _run_sync(self, context: bpy.types.Context) -> OperatorResult:
        job = self._job
        assert job is not None
        wait_sync(job)
        return self._finish(context)

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> OperatorResult:
        job = self._job
        if job is None:
            return {"CANCELLED"}
        if event.type == "ESC" and event.value == "PRESS":
            job.cancel()
            return self._finish(context)
        if event.type == "TIMER":
            job.poll()
            state = context.window_manager.oneshot3d_job  # type: ignore[attr-defined]
            state.fraction, state.message = job.progress.fraction, job.progress.message
            context.window_manager.progress_update(int(100 * job.progress.fraction))
            self._status(context, job.progress.message)
            _redraw_sidebars(context)
            if job.state.finished:
                return self._finish(context)
        return {"PASS_THROUGH"}

    def cancel(self, context: bpy.types.Context) -> None:
        """Blender ends the modal operator (file closed, Blender quits): end the child too."""
        if self._job is not None:
            self._job.cancel()
        self._end_ui(context)

    def _status(self, context: bpy.types.Context, message: str) -> None:
        if context.workspace is not None:
            job = self._job
            pct = int(100 * job.progress.fraction) if job else 0
            context.workspace.status_text_set(
                f"{self.job_title}: {pct}% {message}  (Esc to cancel)"
            )

    def _end_ui(self, context: bpy.types.Context) -> None:
        wm = context.window_manager
        if self._timer is not None:
            wm.event_timer_remove(self._timer)
            self._timer = None
            wm.progress_end()
            if context.workspace is not None:
                context.workspace.status_text_set(None)
        state = wm.oneshot3d_job  # type: ignore[attr-defined]
        state.running = False
        _redraw_sidebars(context)

    def _finish(self, context: bpy.types.Context) -> OperatorResult:
        from ..pipeline.errors import PipelineError
        from ..pipeline.runtime.worker_client import State

        job = self._job
        assert job is not None
        self._end_ui(context)
        try:
            if job.state is State.CANCELLED:
                self.report({"WARNING"}, f"{self.job_title}: cancelled")  # type: ignore[attr-defined]
                return {"CANCELLED"}
            if job.state is not State.DONE:
                print(job.details(), flush=True)
                self.report({"ERROR"}, job.report() + offline_hint(job))  # type: ignore[attr-defined]
                return {"CANCELLED"}
            worker_jobs.last_result.clear()
            worker_jobs.last_result.update(job.result)
            stats = job.result.get("depth_cache") or {}
            state = context.window_manager.oneshot3d_job  # type: ignore[attr-defined]
            state.depth_cache_hits = int(stats.get("hits", 0))
            state.depth_cache_misses = int(stats.get("misses", 0))
            try:
                self.on_done(context, job)
            except (PipelineError, OSError, ValueError, KeyError, RuntimeError) as e:
                import traceback

                traceback.print_exc()
                self.report({"ERROR"}, f"{self.job_title} failed: {e}")  # type: ignore[attr-defined]
                return {"CANCELLED"}
            return {"FINISHED"}
        finally:
            job.release()
            self._job = None


def _redraw_sidebars(context: bpy.types.Context) -> None:
    screen = context.screen
    if screen is None:
        return
    for area in screen.areas:
        if area.type == "VIEW_3D":
            area.tag_redraw()
