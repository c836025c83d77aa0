"""File > Import > 3D Photo, and the machinery every long-running operator shares.

The pipeline never runs in Blender's process: ``JobOperator`` starts ``pipeline.worker`` in a
child process (Blender's interpreter, the vendored environment on its path, see
``pipeline.worker_client``) and

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

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from ..panels.properties import (
    DEPTH_BACKEND_ITEMS,
    SETTING_SPECS,
    setting_annotations,
    settings_dict,
    store_settings,
)
from .typing_helpers import OperatorResult

if TYPE_CHECKING:
    from ..pipeline.worker_client import WorkerJob

ROOT_PACKAGE = __package__.rpartition(".")[0]  # "bl_ext.<repo>.oneshot3d"
PHOTO_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".webp")

MATERIAL_ITEMS = (
    ("EMISSION", "Emission (unlit)", "Shows the photo's pixels as they are, unaffected by lights"),
    ("PRINCIPLED", "Principled BSDF", "A lit material with the photo as base colour"),
)

# Set from any thread to stop a synchronous job (background mode has no Esc key).
cancel_event = threading.Event()

# The most recent job (tests check that a cancelled one's process is gone).
last_job: "WorkerJob | None" = None

# The last finished job's "done" message (timings, depth-cache hits/misses): for tests and
# the benchmark.
last_result: dict[str, Any] = {}


# --- where things live ------------------------------------------------------------------------


def user_dir() -> Path:
    """The extension's user folder (vendored environment, models, depth cache)."""
    try:
        return Path(bpy.utils.extension_path_user(ROOT_PACKAGE, create=True))
    except (ValueError, RuntimeError):
        # Loaded from a checkout (scripts/oneshot3d.py) rather than installed: Blender knows
        # no extension of that name, so keep the data beside Blender's user configuration.
        folder = Path(bpy.utils.resource_path("USER")) / "oneshot3d-checkout"
        folder.mkdir(parents=True, exist_ok=True)
        return folder


def preferences(context: bpy.types.Context | None = None) -> Any:
    context = context or bpy.context
    addon = context.preferences.addons.get(ROOT_PACKAGE)
    return addon.preferences if addon is not None else None


def model_folder(context: bpy.types.Context | None = None) -> Path:
    """The model folder of the preferences; empty = ``<user dir>/models``."""
    prefs = preferences(context)
    custom = bpy.path.abspath(prefs.model_dir) if prefs is not None and prefs.model_dir else ""
    return Path(custom) if custom else user_dir() / "models"


def vendor_folder() -> Path | None:
    from ..pipeline.vendor import vendor_dir

    folder = vendor_dir(user_dir())
    return folder if folder.is_dir() else None


def offline_hint(job: "WorkerJob") -> str:
    if job.error_kind == "ModelError" and not bpy.app.online_access:
        return (
            " Online access is off (Preferences > System > Network): allow it to download "
            "models, or put the files into the model folder."
        )
    return ""


# --- the shared job runner --------------------------------------------------------------------


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
        global last_job
        self._job = last_job = job.start()
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
        from ..pipeline.worker_client import State

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
            last_result.clear()
            last_result.update(job.result)
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


def wait_sync(job: "WorkerJob", prefix: str = "[oneshot3d]") -> None:
    """Wait for a started job in the foreground (background mode, scripts, the batch): progress
    lines to the console; ``cancel_event``, Ctrl-C or any error ends the child first. The
    client's watchdog fails a job whose worker stays silent (stopped or hung)."""
    cancel_event.clear()
    last = ""
    try:
        while not job.state.finished:
            for message in job.poll():
                if message["type"] == "progress" and message.get("message") != last:
                    last = str(message.get("message"))
                    print(f"{prefix} {100 * float(message['fraction']):3.0f}% {last}", flush=True)
            if cancel_event.is_set():
                job.cancel()
                break
            time.sleep(0.05)
    except BaseException:  # KeyboardInterrupt included: never leave the worker running
        job.cancel()
        raise


def _redraw_sidebars(context: bpy.types.Context) -> None:
    screen = context.screen
    if screen is None:
        return
    for area in screen.areas:
        if area.type == "VIEW_3D":
            area.tag_redraw()


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
    from ..pipeline.settings import PipelineSettings
    from ..pipeline.worker_client import build_job

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


def check_models(context: bpy.types.Context, backend: str, model_dir: str | None = None) -> None:
    """Raise ModelError (with the offline hint) when ``backend``'s model files are neither in
    the model folders nor downloadable now; the worker fetches them (the same rule) when they
    can be downloaded. Imports the backend's module, never torch."""
    from ..pipeline.depth.cache import backend_for
    from ..pipeline.errors import ModelError
    from ..pipeline.models import get_info, resolve_model

    folder = model_folder(context)
    for name in backend_for(backend).models:
        try:
            resolve_model(name, model_dir or str(folder), folder)
        except ModelError as e:
            if bpy.app.online_access and get_info(name).pinned:
                continue  # the worker downloads it
            hint = (
                " Online access is off (Preferences > System > Network, or --online-mode): "
                "allow it to download models, or put the files into the model folder."
                if not bpy.app.online_access
                else ""
            )
            raise ModelError(f"{e}{hint}") from None


def preferred_backend(context: bpy.types.Context) -> str:
    """The preferences' default network; Automatic (the default) is Depth Anything V2 Small
    when PyTorch is installed (vendored or in Blender's Python), else Tiefenrausch run by
    OpenCV, which needs nothing beyond the extension zip."""
    from ..pipeline.depth.availability import default_network, torch_installed

    prefs = preferences(context)
    chosen = prefs.default_depth_backend if prefs is not None else "AUTO"
    if chosen != "AUTO":
        return str(chosen)
    vendor = vendor_folder()
    return default_network(torch_installed([vendor] if vendor else []))


# --- the import operator ----------------------------------------------------------------------


# ImportHelper.invoke and Operator.invoke differ only in the stubs' annotations.
class ONESHOT3D_OT_import_photo(JobOperator, bpy.types.Operator, ImportHelper):  # type: ignore[misc]
    """Import a photo as a 3D photo: a layered, textured mesh and a matching camera. Depth comes
    from a depth map file or is estimated by a depth network in a worker process"""

    bl_idname = "oneshot3d.import_photo"
    bl_label = "Import 3D Photo"
    bl_options = {"REGISTER", "UNDO", "PRESET"}
    job_title = "Import 3D Photo"

    filename_ext = ".jpg"
    filter_glob: StringProperty(
        default="*.jpg;*.jpeg;*.png;*.tif;*.tiff;*.webp", options={"HIDDEN"}
    )
    filepath: StringProperty(name="Photo", subtype="FILE_PATH")
    depth_backend: EnumProperty(
        name="Depth",
        description="Where the depth comes from: a depth map file or a depth network",
        items=DEPTH_BACKEND_ITEMS,
        default="AUTO",
    )
    depth_filepath: StringProperty(
        name="Depth Map",
        description="Depth or disparity map (.npy, 8/16-bit PNG, float TIFF or EXR)",
        subtype="FILE_PATH",
    )
    material: EnumProperty(name="Material", items=MATERIAL_ITEMS, default="EMISSION")

    def invoke(  # type: ignore[override]
        self, context: bpy.types.Context, event: bpy.types.Event
    ) -> OperatorResult:
        prefs = preferences(context)
        if prefs is not None and not self.properties.is_property_set("depth_threshold"):
            self.depth_threshold = prefs.default_depth_threshold
        # A dropped file (FileHandler) arrives with filepath set: no file browser, just run
        # (its settings stay adjustable in the redo panel).
        if self.properties.is_property_set("filepath") and self.filepath:
            return self.execute(context)
        return ImportHelper.invoke(self, context, event)  # type: ignore[return-value]

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        layout.use_property_split = True
        layout.use_property_decorate = False
        layout.prop(self, "depth_backend")
        if self.depth_backend in ("AUTO", "FILE"):
            layout.prop(self, "depth_filepath")
            layout.prop(self, "depth_kind")
        for group, title in (("depth", None), ("geometry", "Geometry"), ("ldi", "Layers")):
            col = layout.column(heading=title) if title else layout.column()
            for name, spec in SETTING_SPECS.items():
                if spec.group == group and name != "depth_kind":
                    col.prop(self, name)
        layout.prop(self, "material")

    def resolved_backend(self, context: bpy.types.Context) -> str:
        if self.depth_backend != "AUTO":
            return str(self.depth_backend)
        return "FILE" if self.depth_filepath else preferred_backend(context)

    def keywords(self, context: bpy.types.Context) -> dict[str, Any]:
        keywords = settings_dict(self)
        keywords.update(
            filepath=bpy.path.abspath(self.filepath),
            depth_filepath=bpy.path.abspath(self.depth_filepath) if self.depth_filepath else "",
            depth_backend=self.resolved_backend(context),
        )
        return keywords

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        return self.run_job(context)

    def make_job(self, context: bpy.types.Context) -> "WorkerJob":
        backend = self.resolved_backend(context)
        return pipeline_job(context, self.keywords(context), network_backend=backend != "FILE")

    def on_done(self, context: bpy.types.Context, job: "WorkerJob") -> None:
        from ..pipeline.mesh_data import MeshData
        from ..pipeline.settings import PipelineSettings
        from . import scene_build

        mesh = MeshData.load_npz(job.result["result"])
        settings = PipelineSettings.from_keywords(self.keywords(context))
        for warning in mesh.warnings:
            self.report({"WARNING"}, warning)
        result = scene_build.build_photo_objects(context, mesh, settings, material=self.material)
        props = result.mesh_object.oneshot3d  # type: ignore[attr-defined]
        store_settings(props, settings)
        props.depth_backend = settings.depth_backend
        props.material = self.material
        self.report(
            {"INFO"}, f"Imported {result.mesh_object.name}: {mesh.triangle_count:,} triangles"
        )


ONESHOT3D_OT_import_photo.__annotations__.update(setting_annotations())
