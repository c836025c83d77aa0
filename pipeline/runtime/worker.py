"""The pipeline's worker process: runs one job out of Blender's process.

    python -m pipeline.runtime.worker JOB.json        build a 3D photo (see ``run_job``)
    python -m pipeline.runtime.worker --probe [MOD..] what is importable here: versions, torch devices
    python -m pipeline.runtime.worker --download NAME --cache-dir DIR   fetch a catalogue model

Blender starts it with its own interpreter and a PYTHONPATH of the extension folder, the
vendored environment and Blender's own ``sys.path`` (see ``worker_client``), so torch is only
ever imported here, never in Blender's process, and a crash in torch cannot take Blender down.

Protocol: every line on stdout is one JSON object with a ``type``:
``progress`` (stage, fraction in [0, 1], message), ``done`` (result path, warnings, timings,
depth-cache statistics), ``error`` (kind = exception class, message), ``probe``, and
``alive`` every :data:`HEARTBEAT_SECONDS` from a thread while a job or download runs (the
client's watchdog ends a child that stays silent: stopped or wedged). Anything
else a library prints goes to stderr (stdout is redirected there while the job runs), so the
protocol stream stays parseable. Exit status: 0 done, 2 a PipelineError (the user can fix
it), 3 an unexpected error (details and traceback on stderr), 4 the parent died (the worker
removed its job folder and stopped: nobody would read the result).

The result is ``result.mesh`` (``MeshData.save``: the arrays as they are, no zip, no checksum)
written to a temporary name and renamed, so the parent never reads half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import IO, Any

from ..errors import CancelledError, PipelineError
from ..io.atomic import atomic_write
from ..settings import PipelineSettings
from .allocator import heap_estimate, warm_heap

# Test hook, read from the environment so that a test in Blender can make the child misbehave
# without any operator option: "crash" (hard exit mid-job, like a segfault in torch),
# "exception" (an unexpected Python error), "slow" (each progress step takes 0.4 s, so a test
# can cancel mid-run).
FAULT_ENV = "ONESHOT3D_WORKER_FAULT"

EXIT_OK = 0
EXIT_PIPELINE_ERROR = 2
EXIT_UNEXPECTED = 3
EXIT_ORPHANED = 4
HEARTBEAT_SECONDS = 1.0


class Emitter:
    """Writes protocol lines to the real stdout, flushing each so the parent sees it now."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()  # the heartbeat thread writes too: whole lines only

    def __call__(self, type_: str, /, **fields: Any) -> None:
        fields["type"] = type_
        line = json.dumps(fields, default=str) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()


def _orphaned(output_dir: str | None) -> None:
    """The parent (Blender, a batch shard) is gone -- killed by a farm manager, say: nobody
    will read the result, so stop now and remove the job folder the parent would have."""
    if output_dir:
        shutil.rmtree(output_dir, ignore_errors=True)
    os._exit(EXIT_ORPHANED)


@contextlib.contextmanager
def heartbeat(
    emit: Emitter, interval: float = HEARTBEAT_SECONDS, output_dir: str | None = None
) -> Any:
    """Send ``alive`` lines from a daemon thread while the body runs: a long stage without
    progress (a big photo's meshing) is not mistaken for a hung worker; a stopped one is.
    When the parent has died (re-parented, or the pipe is closed) the worker ends itself and
    removes ``output_dir`` instead of computing for no one."""
    stop = threading.Event()
    parent = os.getppid()

    def beat() -> None:
        while not stop.wait(interval):
            if os.getppid() != parent:
                _orphaned(output_dir)
            try:
                emit("alive")
            except (OSError, ValueError):  # the parent closed the pipe: it is gone
                _orphaned(output_dir)

    thread = threading.Thread(target=beat, name="oneshot3d-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=interval + 1.0)
        if os.getppid() != parent:  # the main thread got there first (a write to the
            _orphaned(output_dir)  # closed pipe failed the job)


def write_result_atomic(mesh: Any, path: Path) -> None:
    """``mesh.save`` to ``path`` atomically: the parent never reads half a result."""
    atomic_write(path, mesh.save, mode=None)  # the worker's private hand-over


def run_job(job: dict[str, Any], emit: Emitter) -> int:
    """Run one build job. ``job``: ``settings`` (PipelineSettings fields), ``output_dir``
    (where result.mesh goes), optional ``depth_cache_dir`` and ``env`` (extra variables)."""
    from ..build import build_photo

    for key, value in (job.get("env") or {}).items():
        os.environ[str(key)] = str(value)
    fault = os.environ.get(FAULT_ENV, "")
    out_dir = Path(job["output_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)

    def progress(stage: str, fraction: float, message: str) -> None:
        emit("progress", stage=stage, fraction=float(fraction), message=message)
        if fault == "slow":
            time.sleep(0.4)
        if fault == "crash" and stage == "depth":
            sys.stderr.write("simulated crash in the worker\n")
            sys.stderr.flush()
            os._exit(139)  # no cleanup, no error line: what a segfault looks like
        if fault == "exception" and stage == "depth":
            raise RuntimeError("simulated unexpected error in the worker")

    settings = PipelineSettings.from_keywords(job["settings"])
    if settings.depth_backend != "FILE":
        fetch_models(settings, job, emit)
    extras_dir = job.get("depth_cache_dir")
    t0 = time.perf_counter()
    if extras_dir:
        # The depth cache's folder is chosen by the Blender layer (the extension's user
        # folder), so a Rebuild finds what the import stored.
        from ..depth import cache

        original = cache.default_depth_cache_dir
        cache.default_depth_cache_dir = lambda: Path(extras_dir)  # type: ignore[assignment]
    try:
        mesh = build_photo(settings, progress)
    finally:
        if extras_dir:
            cache.default_depth_cache_dir = original  # type: ignore[assignment]
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = out_dir / "result.mesh"
    write_result_atomic(mesh, result)
    stats: dict[str, int] = {}
    cache_module = sys.modules.get(f"{__package__.rpartition('.')[0]}.depth.cache")
    if cache_module is not None:  # only loaded when a network backend ran
        s = cache_module.STATS
        stats = {"hits": s.hits, "misses": s.misses, "stores": s.stores}
    emit(
        "done",
        result=str(result),
        warnings=list(mesh.warnings),
        timings={**mesh.timings, "build": build_s, "write": time.perf_counter() - t0},
        triangles=mesh.triangle_count,
        depth_cache=stats,
        # Whether this job loaded torch: lets Blender (and tests) see that a backend that
        # needs no torch really ran without it.
        torch_loaded="torch" in sys.modules,
    )
    return EXIT_OK


def fetch_models(settings: Any, job: dict[str, Any], emit: Emitter) -> None:
    """Make sure the backend's model files are there; download the missing ones only when the
    job allows it (Blender allows it when ``bpy.app.online_access`` is on)."""
    from ..depth.registry import backend_for
    from .downloads import ensure_model

    cache_dir = job.get("model_cache_dir") or None
    for name in backend_for(settings.depth_backend).models:
        label = name

        def progress(done: int, total: int, label: str = label) -> None:
            emit(
                "progress",
                stage="download",
                fraction=0.1 * (done / total if total else 0.0),
                message=f"Downloading {label}: {done / 1e6:.1f} / {total / 1e6:.1f} MB",
            )

        ensure_model(
            name,
            settings.model_dir,
            cache_dir,
            progress,
            allow_download=bool(job.get("allow_download")),
        )


def probe(modules: list[str]) -> dict[str, Any]:
    """Versions of what this interpreter can import and the torch devices it finds. Importing
    torch here (the worker) is the point: Blender's own process never does."""
    import importlib

    info: dict[str, Any] = {"python": sys.version.split()[0], "executable": sys.executable}
    for name in ["numpy", "cv2", "torch", *modules]:
        try:
            module = importlib.import_module(name)
            info[name] = str(getattr(module, "__version__", "installed"))
            info[name + "_path"] = str(getattr(module, "__file__", ""))
        except Exception as e:  # ImportError, or a broken install raising anything
            info[name] = None
            info[name + "_error"] = f"{type(e).__name__}: {e}"
    devices = ["cpu"]
    if info.get("torch"):
        import torch

        if torch.cuda.is_available():
            devices.append("cuda")
            info["cuda_device"] = torch.cuda.get_device_name(0)
            info["torch_cuda"] = str(torch.version.cuda or "")
            info["torch_hip"] = str(getattr(torch.version, "hip", "") or "")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            devices.append("mps")
    info["devices"] = devices
    return info


def download(name: str, cache_dir: str, emit: Emitter) -> int:
    from .downloads import download_model
    from .models import get_info

    info = get_info(name)

    def progress(done: int, total: int) -> None:
        fraction = done / total if total else 0.0
        emit(
            "progress",
            stage="download",
            fraction=fraction,
            message=f"Downloading {info.filename}: {done / 1e6:.1f} / {total / 1e6:.1f} MB",
        )

    path = download_model(name, cache_dir, progress=progress)
    emit("done", result=str(path), warnings=[], timings={}, triangles=0, depth_cache={})
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    emit = Emitter(sys.stdout)
    # From here on, stray prints of any library land on stderr, not in the protocol.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            if argv and argv[0] == "--probe":
                emit("probe", **probe(argv[1:]))
                return EXIT_OK
            if len(argv) >= 4 and argv[0] == "--download" and argv[2] == "--cache-dir":
                with heartbeat(emit):
                    return download(argv[1], argv[3], emit)
            if len(argv) != 1:
                emit(
                    "error",
                    kind="UsageError",
                    message="usage: python -m pipeline.runtime.worker JOB.json",
                )
                return EXIT_UNEXPECTED
            job = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
            # One build, then exit: freed memory is reused, and the heap the build needs is
            # faulted in by a thread while run_job imports the pipeline (allocator.py).
            # Settings that do not validate are run_job's to report; the warm-up is a hint.
            try:
                warm_heap(heap_estimate(PipelineSettings.from_keywords(job.get("settings") or {})))
            except PipelineError:
                pass
            with heartbeat(emit, output_dir=job.get("output_dir")):
                return run_job(job, emit)
        except CancelledError as e:
            emit("error", kind="CancelledError", message=str(e) or "Cancelled")
            return EXIT_PIPELINE_ERROR
        except PipelineError as e:
            emit("error", kind=type(e).__name__, message=str(e))
            return EXIT_PIPELINE_ERROR
        except BaseException as e:  # noqa: B036  # the parent must always get an error line
            traceback.print_exc(file=sys.stderr)
            sys.stderr.flush()
            message = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            emit("error", kind=type(e).__name__, message=message)
            return EXIT_UNEXPECTED


if __name__ == "__main__":
    status = main()
    # One job, then gone: skip the interpreter's teardown (freeing every module and the
    # build's heap, stopping ONNX Runtime's thread pools), about 0.1 s after a 1 MP build
    # that the parent would spend waiting for the end of the stream before it reads the
    # result. Everything the job wrote is closed by now; the streams are flushed here.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
