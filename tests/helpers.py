"""Helpers shared by the unit and the Blender tests (tests/ is on sys.path: the conftest
here lives in it)."""

from __future__ import annotations

import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def make_wheel(folder: Path, name: str, version: str, tag: str = "py3-none-any") -> Path:
    """A minimal wheel, written by hand (no build tools needed); ``tag`` such as
    ``cp313-none-any`` makes it installable on one Python only."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-{tag}.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": f"__version__ = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n",
    }
    record = "".join(f"{p},,\n" for p in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for p, text in files.items():
            z.writestr(p, text)
        z.writestr(f"{info}/RECORD", record)
    return path


def read_video(path: Path) -> list[np.ndarray]:
    """Every frame of a video file, as float64 BGR arrays."""
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame.astype(np.float64))
    cap.release()
    return frames


# Distributions that make up PyTorch in a venv (top-level names in site-packages).
TORCH_PARTS = ("torch", "functorch", "torchgen", "nvidia", "triton")


def torchless_python(folder: Path, also_without: tuple[str, ...] = ()) -> Path:
    """A Python like this one where torch does not exist: a new venv (no pip) whose
    site-packages links every package of this interpreter's except PyTorch's (and the
    top-level packages named in ``also_without``, e.g. onnxruntime, so that only the extension
    zip can provide them). What a user who installed only the extension zip has: Blender's
    Python with numpy, and OpenCV and ONNX Runtime from the zip. Processes it starts (the
    worker) inherit the same torch-free site-packages."""
    import subprocess
    import sys
    import sysconfig

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    target = Path(out.stdout.strip())
    source = Path(sysconfig.get_paths()["purelib"])
    for entry in source.iterdir():
        top = entry.name.split("-")[0].split(".")[0].lower()
        if top in TORCH_PARTS or top in also_without or (target / entry.name).exists():
            continue
        (target / entry.name).symlink_to(entry)
    return python


def interrupt_when(
    argv: list[str],
    ready: Callable[["subprocess.Popen[str]"], bool],
    delay: float,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> "subprocess.CompletedProcess[str]":
    """Start ``argv`` with Ctrl-C at its default (whatever the test runner's is), wait until
    ``ready(proc)``, then ``delay`` seconds more, and send it a real SIGINT; the process must
    still be running at that moment."""
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=cwd,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 300
        while not ready(proc) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(delay)
        assert proc.poll() is None, "finished before the interrupt: " + proc.communicate()[1]
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def maps_library(proc: "subprocess.Popen[str]", marker: str) -> bool:
    """Whether the process has mapped a shared library whose path contains ``marker`` (Linux):
    it is past Python's own start-up and loading its libraries."""
    try:
        return marker in Path(f"/proc/{proc.pid}/maps").read_text()
    except OSError:
        return False


def proto_classes(
    package: str,
    messages: list[tuple[str, list[tuple[str, int, int, bool, str]]]],
    wanted: tuple[str, ...],
) -> dict[str, Any]:
    """Protobuf message classes built at run time from (name, [(field, number, type, repeated,
    message type name)]) tables, to write and cross-check wire-format files in tests."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"{package}_subset_test.proto", package=package, syntax="proto2"
    )
    for name, fields in messages:
        msg = fdp.message_type.add(name=name)
        for fname, number, ftype, repeated, type_name in fields:
            f = msg.field.add(name=fname, number=number, type=ftype)
            f.label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
            if type_name:
                f.type_name = f".{package}.{type_name}"
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return {
        n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{package}.{n}"))
        for n in wanted
    }


def photo_region_offsets(texture: np.ndarray, rgb: np.ndarray, tolerance: float = 0) -> list[int]:
    """Offsets m where ``rgb`` sits in ``texture`` at (m, m), pixel for pixel up to
    ``tolerance`` except at most 3 % of the pixels: the background pixels beside outlines,
    whose colour the silhouette skirts unmix (``pipeline.mesh.skirts``)."""
    h, w = rgb.shape[:2]
    found = []
    for m in range(min(texture.shape[0] - h, texture.shape[1] - w) + 1):
        region = texture[m : m + h, m : m + w].astype(np.float64)
        same = np.abs(region - rgb).max(axis=-1) <= tolerance
        if same.mean() >= 0.97:
            found.append(m)
    return found


def assert_only_outline_pixels_unmixed(
    region: np.ndarray, rgb: np.ndarray, depth: np.ndarray
) -> None:
    """The atlas's photo region is the photo, except background pixels right beside a depth
    edge (a 4-neighbour is nearer), which the skirts unmix; those do change."""
    changed = np.any(region != rgb, axis=-1)
    beside = np.zeros(depth.shape, bool)
    beside[:, :-1] |= depth[:, 1:] < depth[:, :-1]
    beside[:, 1:] |= depth[:, :-1] < depth[:, 1:]
    beside[:-1, :] |= depth[1:, :] < depth[:-1, :]
    beside[1:, :] |= depth[:-1, :] < depth[1:, :]
    assert not (changed & ~beside).any()
    assert changed.any()
