"""Preferences > Install Dependencies / Remove / Status, and Download Model.

torch is installed with Blender's own interpreter and pip into
``extension_path_user(...)/vendor`` (via a staging folder, see ``pipeline.runtime.vendor``), never
into Blender's site-packages, and only when ``bpy.app.online_access`` allows it (a local
wheel folder with "No Index" works offline). The install runs under the same job runner as
the import: modal with progress and Esc in the UI, synchronous in background mode.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from ..blender.extension import model_folder, preferences, user_dir, vendor_folder
from .jobs import JobOperator
from .typing_helpers import OperatorResult

if TYPE_CHECKING:
    from ..pipeline.runtime.worker_client import WorkerJob

VARIANT_ITEMS = (
    ("CPU", "CPU", "Works everywhere (smallest download)"),
    ("CUDA", "NVIDIA CUDA", "NVIDIA GPUs (Linux, Windows)"),
    ("ROCM", "AMD ROCm", "AMD GPUs (Linux)"),
    ("MPS", "Apple Metal (MPS)", "Apple Silicon (macOS)"),
)

OFFLINE = (
    "Online access is off (Preferences > System > Network). Allow it to install dependencies, "
    "or install from a local wheel folder with No Index."
)


class ONESHOT3D_OT_install_dependencies(JobOperator, bpy.types.Operator):
    """Install torch (and what else the depth networks need) into the extension's own folder,
    using Blender's Python and pip. Blender's own packages are not touched"""

    bl_idname = "oneshot3d.install_dependencies"
    bl_label = "Install Dependencies"
    bl_options = {"REGISTER", "INTERNAL"}
    job_title = "Install dependencies"

    variant: EnumProperty(name="torch Build", items=VARIANT_ITEMS, default="CPU")
    find_links: StringProperty(
        name="Wheel Folder",
        description="Also look for wheels in this folder (offline installs)",
        subtype="DIR_PATH",
    )
    no_index: BoolProperty(
        name="No Index", description="Use only the wheel folder, never the network", default=False
    )
    packages: StringProperty(
        name="Packages",
        description="Space-separated requirements instead of the default (advanced)",
        default="",
    )

    _root = None  # the extension user folder (Path) while installing

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        if not self.no_index and not bpy.app.online_access:
            self.report({"ERROR"}, OFFLINE)
            return {"CANCELLED"}
        return self.run_job(context)

    def make_job(self, context: bpy.types.Context) -> "WorkerJob":
        import numpy

        from ..pipeline.runtime import vendor
        from ..pipeline.runtime.worker_client import WorkerJob
        from ..pipeline.runtime.worker_env import worker_pythonpath

        root = user_dir()
        self._root = root
        vendor.discard_staging(root)
        tmp = Path(tempfile.mkdtemp(prefix="oneshot3d-pip-"))
        constraints = tmp / "constraints.txt"
        # Never a second numpy: the one Blender ships is what the bundled OpenCV uses.
        constraints.write_text(vendor.constraints_text(numpy.__version__), encoding="utf-8")
        args = vendor.pip_install_command(
            root,
            variant=self.variant,
            packages=self.packages.split() or None,
            constraints_file=constraints,
            find_links=bpy.path.abspath(self.find_links) if self.find_links else None,
            no_index=self.no_index,
        )
        return WorkerJob(
            args=args[1:],
            module=args[0],
            parse_line=vendor.parse_pip_line,
            pythonpath=worker_pythonpath(None),
            temp_dir=tmp,
        )

    def on_done(self, context: bpy.types.Context, job: "WorkerJob") -> None:
        from ..pipeline.runtime import vendor

        assert self._root is not None
        vendor.commit_staging(self._root)
        st = vendor.status(self._root)
        self.report({"INFO"}, f"Dependencies installed: {st.summary()}")

    def _finish(self, context: bpy.types.Context) -> OperatorResult:
        result = super()._finish(context)
        if "FINISHED" not in result and self._root is not None:
            from ..pipeline.runtime import vendor

            vendor.discard_staging(self._root)  # failed or cancelled: no half environment
        return result


class ONESHOT3D_OT_remove_dependencies(bpy.types.Operator):
    """Delete the installed dependencies (torch) from the extension's folder"""

    bl_idname = "oneshot3d.remove_dependencies"
    bl_label = "Remove"
    bl_options = {"REGISTER", "INTERNAL"}

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        from ..pipeline.runtime import vendor

        try:
            removed = vendor.remove(user_dir())
        except OSError as e:
            self.report({"ERROR"}, f"Could not remove the dependencies: {e}")
            return {"CANCELLED"}
        self.report({"INFO"}, "Dependencies removed" if removed else "Nothing was installed")
        return {"FINISHED"}


class ONESHOT3D_OT_dependency_status(bpy.types.Operator):
    """Check what the worker can import (versions) and which devices torch finds"""

    bl_idname = "oneshot3d.dependency_status"
    bl_label = "Status"
    bl_options = {"REGISTER", "INTERNAL"}

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        from ..pipeline.runtime.worker_client import run_probe

        info = run_probe(vendor_dir=vendor_folder())
        if "error" in info:
            print(info.get("details", info["error"]), flush=True)
            text = f"Worker failed: {info['error']}"
            level: Literal["ERROR", "INFO"] = "ERROR"
        else:
            torch = f"torch {info['torch']}" if info.get("torch") else "no torch"
            text = (
                f"{torch}; devices: {', '.join(info['devices'])}; numpy {info.get('numpy')}; "
                f"OpenCV {info.get('cv2')}"
            )
            level = "INFO"
        prefs = preferences(context)
        if prefs is not None:
            prefs.status_text = text
        self.report({level}, text)
        return {"FINISHED"} if level == "INFO" else {"CANCELLED"}


class ONESHOT3D_OT_download_model(JobOperator, bpy.types.Operator):
    """Download a depth model into the model folder (needs online access)"""

    bl_idname = "oneshot3d.download_model"
    bl_label = "Download Model"
    bl_options = {"REGISTER", "INTERNAL"}
    job_title = "Download model"

    model: StringProperty(name="Model", description="Catalogue name of the model")

    def execute(self, context: bpy.types.Context) -> OperatorResult:
        if not bpy.app.online_access:
            self.report({"ERROR"}, OFFLINE.replace("install dependencies", "download models"))
            return {"CANCELLED"}
        return self.run_job(context)

    def make_job(self, context: bpy.types.Context) -> "WorkerJob":
        from ..pipeline.runtime.worker_client import WorkerJob
        from ..pipeline.runtime.worker_env import worker_pythonpath

        folder = model_folder(context)
        folder.mkdir(parents=True, exist_ok=True)
        return WorkerJob(
            args=["--download", self.model, "--cache-dir", str(folder)],
            pythonpath=worker_pythonpath(vendor_folder()),
        )

    def on_done(self, context: bpy.types.Context, job: "WorkerJob") -> None:
        self.report({"INFO"}, f"Downloaded {job.result.get('result')}")


classes = (
    ONESHOT3D_OT_install_dependencies,
    ONESHOT3D_OT_remove_dependencies,
    ONESHOT3D_OT_dependency_status,
    ONESHOT3D_OT_download_model,
)
