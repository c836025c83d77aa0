"""Start and watch a worker process (``pipeline.runtime.worker``) from Blender or anywhere else.

No bpy here: the Blender operators drive a ``WorkerJob`` from a modal timer (``poll()``
never blocks) or, in background mode, through ``run_sync``. States:

    STARTING -> RUNNING (first protocol line) -> DONE | FAILED | CANCELLED

The child's stdout is read by a thread into a queue (JSON protocol lines); its stderr by a
second thread into a bounded buffer, whose last lines go into the error report when the child
fails. ``cancel()`` ends the child (terminate, then kill) and every job removes its temporary
folder once it is finished, failed or cancelled.

Watchdog: a pipeline job sends a heartbeat line every second while it works (see
``pipeline.runtime.worker``). When nothing at all arrives for ``stall_timeout`` seconds, the child is
taken to be stopped (SIGSTOP, a suspended laptop's orphan) or hung: ``poll()`` kills it, removes
the temporary folder and fails the job with ``WorkerStalled``, so a scripted import or a batch
never waits forever. ``$ONESHOT3D_WORKER_TIMEOUT`` sets the default (0 = no watchdog).
"""

from __future__ import annotations

import collections
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import IO, Any

from .worker_env import PACKAGE, worker_env, worker_pythonpath

STDERR_LINES = 40
STALL_TIMEOUT_ENV = "ONESHOT3D_WORKER_TIMEOUT"
# Generous: the heartbeat comes every second, so only a stopped or wedged child stays silent.
DEFAULT_STALL_TIMEOUT = 120.0


def default_stall_timeout() -> float | None:
    """``$ONESHOT3D_WORKER_TIMEOUT`` seconds (0 = none), else :data:`DEFAULT_STALL_TIMEOUT`."""
    raw = os.environ.get(STALL_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_STALL_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_STALL_TIMEOUT
    return value if value > 0 else None


class State(Enum):
    STARTING = "starting"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (State.DONE, State.FAILED, State.CANCELLED)


@dataclass
class Progress:
    stage: str = "start"
    fraction: float = 0.0
    message: str = "Starting worker"


def progress_of(message: dict[str, Any]) -> Progress:
    return Progress(
        str(message.get("stage", "")),
        float(message.get("fraction", 0.0)),
        str(message.get("message", "")),
    )


@dataclass
class WorkerJob:
    """One run of the worker: ``args`` after ``python -m pipeline.runtime.worker``."""

    args: list[str]
    python: str = sys.executable
    # What runs: ``python -s -m MODULE ARGS``. Another module (pip) can run under the same
    # watch with ``parse_line`` turning its output into protocol messages.
    module: str = f"{PACKAGE}.runtime.worker"
    parse_line: Callable[[str], dict[str, Any] | None] | None = None
    pythonpath: list[str] = field(default_factory=worker_pythonpath)
    env: dict[str, str] = field(default_factory=dict)
    temp_dir: Path | None = None  # removed when the job ends (owned by the job)
    state: State = State.STARTING
    progress: Progress = field(default_factory=Progress)
    result: dict[str, Any] = field(default_factory=dict)  # the "done" line
    error: str = ""
    error_kind: str = ""
    started_at: float = 0.0
    first_progress_at: float = 0.0
    ended_at: float = 0.0
    # Seconds without any output line before the child is killed as stalled (None = never).
    stall_timeout: float | None = None
    _last_output: float = 0.0  # time.monotonic() of the last line on stdout or stderr
    _proc: subprocess.Popen[str] | None = None
    _lines: queue.Queue[str | None] = field(default_factory=queue.Queue)
    _stderr: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=STDERR_LINES)
    )
    _threads: list[threading.Thread] = field(default_factory=list)
    _eof: bool = False

    # --- life cycle -----------------------------------------------------------------------

    def start(self) -> "WorkerJob":
        self.started_at = time.perf_counter()
        self._last_output = time.monotonic()
        cmd = [self.python, "-s", "-m", self.module, *self.args]
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                # A foreign tool's errors (pip's "ERROR: ...") come on stderr: read them as lines.
                stderr=subprocess.STDOUT if self.parse_line else subprocess.PIPE,
                text=True,
                encoding="utf-8",
                errors="replace",
                env=worker_env(self.pythonpath, self.env),
                cwd=str(self.temp_dir) if self.temp_dir else None,
            )
        except OSError as e:
            self._fail("WorkerStartError", f"Could not start the worker ({self.python}): {e}")
            return self
        readers: list[tuple[Callable[[IO[str]], None], IO[str] | None]] = [
            (self._read_stdout, self._proc.stdout)
        ]
        if self._proc.stderr is not None:
            readers.append((self._read_stderr, self._proc.stderr))
        for target, stream in readers:
            t = threading.Thread(target=target, args=(stream,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _read_stdout(self, stream: IO[str]) -> None:
        for line in stream:
            self._last_output = time.monotonic()
            self._lines.put(line)
        self._lines.put(None)  # end of stream

    def _read_stderr(self, stream: IO[str]) -> None:
        for line in stream:
            self._last_output = time.monotonic()
            self._stderr.append(line.rstrip("\n"))

    def poll(self, timeout: float = 0.0) -> list[dict[str, Any]]:
        """Handle every line that arrived since the last call, waiting up to ``timeout``
        seconds for the first one (0: never blocks); returns the protocol messages, and moves
        to DONE / FAILED when the child has ended."""
        messages: list[dict[str, Any]] = []
        if self.state.finished:
            return messages
        while True:
            try:
                line = self._lines.get(timeout=timeout) if timeout > 0 else self._lines.get_nowait()
            except queue.Empty:
                break
            timeout = 0.0  # the rest only if already there
            if line is None:
                self._eof = True
                break
            message = self._parse(line)
            if message is not None:
                messages.append(message)
                self._handle(message)
        if self._eof and not self.state.finished and self._proc is not None:
            try:
                code = self._proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                return messages  # stdout closed but still alive: look again next time
            for t in self._threads:
                t.join(timeout=1.0)
            self._finish_from_exit(code)
        elif self.stall_timeout and not self.state.finished and self._proc is not None:
            silent = time.monotonic() - self._last_output
            if silent > self.stall_timeout:
                self._stalled(silent)
        return messages

    def _stalled(self, silent: float) -> None:
        """The watchdog: kill (SIGKILL: a stopped process does not act on SIGTERM until it is
        continued), reap, remove the temp folder, and say what happened."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.kill()
            try:
                proc.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                pass
        for t in self._threads:
            t.join(timeout=1.0)
        stage = f" during '{self.progress.message}'" if self.progress.message else ""
        self._fail(
            "WorkerStalled",
            f"The worker gave no sign of life for {silent:.0f} s{stage} (stopped or hung) "
            f"and was ended; nothing was built (limit {self.stall_timeout:g} s: the batch's "
            f"--worker-timeout, or ${STALL_TIMEOUT_ENV}).",
        )

    def _parse(self, line: str) -> dict[str, Any] | None:
        line = line.strip()
        if not line:
            return None
        if self.parse_line is not None:
            self._stderr.append(line)  # a foreign tool's output: all of it is report material
            return self.parse_line(line)
        try:
            message = json.loads(line)
        except ValueError:
            self._stderr.append(line)  # not protocol: keep it for the report
            return None
        return message if isinstance(message, dict) and "type" in message else None

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if self.state is State.STARTING:
            self.state = State.RUNNING
        if kind == "progress":
            if not self.first_progress_at:
                self.first_progress_at = time.perf_counter()
            self.progress = progress_of(message)
        elif kind in ("done", "probe"):
            self.result = message
        elif kind == "error":
            self.error_kind = str(message.get("kind", "Error"))
            self.error = str(message.get("message", "")) or self.error_kind

    def _finish_from_exit(self, code: int) -> None:
        self.ended_at = time.perf_counter()
        if code == 0 and not self.result and self.parse_line is not None and not self.error:
            self.result = {"type": "done"}  # a foreign tool says "done" by its exit status
        if code == 0 and self.result:
            self.state = State.DONE
            self._close_pipes()  # the temp folder stays until release(): it holds the result
        elif self.error:
            self.state = State.FAILED
            self.cleanup()
        else:
            # Killed or crashed without a word (segfault, out of memory): say so.
            how = f"signal {-code}" if code < 0 else f"exit status {code}"
            self._fail("WorkerCrash", f"The worker process ended unexpectedly ({how}).")

    def _fail(self, kind: str, message: str) -> None:
        self.state = State.FAILED
        self.error_kind, self.error = kind, message
        self.ended_at = self.ended_at or time.perf_counter()
        self.cleanup()

    def cancel(self) -> None:
        """End the child (terminate, then kill) and remove the temporary folder."""
        if self.state.finished:
            return
        self._kill()
        self.state = State.CANCELLED
        self.error_kind, self.error = "CancelledError", "Cancelled"
        self.ended_at = time.perf_counter()
        self.cleanup()

    def _kill(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=3.0)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5.0)
        for t in self._threads:
            t.join(timeout=1.0)

    def _close_pipes(self) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            self._kill()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass

    def cleanup(self) -> None:
        """End the child if it still runs, close the pipes and remove the job's temporary
        folder (idempotent). Failed and cancelled jobs clean up by themselves; a DONE job
        keeps its folder (the result is in it) until the caller has read it."""
        self._close_pipes()
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)

    release = cleanup  # after reading a DONE job's result

    def wait(
        self,
        on_progress: Callable[[Progress], None] | None = None,
        interval: float = 0.05,
        timeout: float | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> State:
        """Block until the job ends (the one polling loop: the operators' synchronous path,
        the batch and the probe use it), calling ``on_progress`` for each progress message.
        The job is cancelled when ``stop()`` turns true or after ``timeout`` seconds, and
        whenever the wait itself is interrupted (Ctrl-C included): never a worker left
        running."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while not self.state.finished:
                # Waiting on the line queue rather than sleeping: the result is read the
                # moment the worker ends, not up to ``interval`` later.
                for message in self.poll(timeout=interval):
                    if message["type"] == "progress" and on_progress is not None:
                        on_progress(progress_of(message))
                if self.state.finished:
                    break
                if (stop is not None and stop()) or (
                    deadline is not None and time.monotonic() > deadline
                ):
                    self.cancel()
                    break
        except BaseException:
            self.cancel()
            raise
        return self.state

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stderr_tail(self, n: int = 12) -> list[str]:
        return list(self._stderr)[-n:]

    def report(self) -> str:
        """One line for the artist (Blender's report) ..."""
        return self.error.splitlines()[0] if self.error else ""

    def details(self) -> str:
        """... and the details for the console: kind, message and the child's last lines."""
        tail = "\n".join("    " + line for line in self.stderr_tail())
        text = f"[oneshot3d worker] {self.error_kind}: {self.error}"
        return text + (f"\n  last lines of the worker:\n{tail}" if tail else "")


def build_job(
    settings: dict[str, Any],
    *,
    vendor_dir: str | os.PathLike[str] | None = None,
    depth_cache_dir: str | os.PathLike[str] | None = None,
    model_cache_dir: str | os.PathLike[str] | None = None,
    allow_download: bool = False,
    env: dict[str, str] | None = None,
    python: str | None = None,
    parent_path: Sequence[str] | None = None,
    stall_timeout: float | None = None,
) -> WorkerJob:
    """A (not yet started) job that builds the 3D photo for ``settings`` in a temp folder.
    ``stall_timeout``: the watchdog's limit in seconds (0 = none; None = the default, see
    :func:`default_stall_timeout`)."""
    # The child runs in its temp folder: relative paths must mean what they mean here.
    settings = dict(settings)
    for key in ("filepath", "depth_filepath", "model_dir"):
        if settings.get(key):
            settings[key] = os.path.abspath(settings[key])
    tmp = Path(tempfile.mkdtemp(prefix="oneshot3d-job-"))
    job = {
        "settings": settings,
        "output_dir": str(tmp),
        "depth_cache_dir": str(depth_cache_dir) if depth_cache_dir else "",
        "model_cache_dir": str(model_cache_dir) if model_cache_dir else "",
        "allow_download": allow_download,
    }
    job_file = tmp / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    return WorkerJob(
        args=[str(job_file)],
        python=python or sys.executable,
        pythonpath=worker_pythonpath(vendor_dir, parent_path),
        env=dict(env or {}),
        temp_dir=tmp,
        stall_timeout=default_stall_timeout() if stall_timeout is None else (stall_timeout or None),
    )


def run_probe(
    modules: Sequence[str] = (),
    vendor_dir: str | os.PathLike[str] | None = None,
    python: str | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Run ``--probe`` synchronously: what the worker can import and which devices torch sees."""
    job = WorkerJob(
        args=["--probe", *modules],
        python=python or sys.executable,
        pythonpath=worker_pythonpath(vendor_dir),
    ).start()
    if job.wait(interval=0.02, timeout=timeout) is State.CANCELLED:
        return {"error": "the worker did not answer in time"}
    if job.state is not State.DONE:
        return {"error": job.error, "details": job.details()}
    return {k: v for k, v in job.result.items() if k != "type"}
