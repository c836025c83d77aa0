"""Helpers shared by the unit and the Blender tests (tests/ is on sys.path: the conftest
here lives in it)."""

from __future__ import annotations

import zipfile
from pathlib import Path

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


def torchless_python(folder: Path) -> Path:
    """A Python like this one where torch does not exist: a new venv (no pip) whose
    site-packages links every package of this interpreter's except PyTorch's. What a user who
    installed only the extension zip has: Blender's Python with numpy, and OpenCV from the
    zip. Processes it starts (the worker) inherit the same torch-free site-packages."""
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
        if top in TORCH_PARTS or (target / entry.name).exists():
            continue
        (target / entry.name).symlink_to(entry)
    return python
