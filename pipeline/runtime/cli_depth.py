"""``python -m pipeline depth PHOTO -o OUT.npy --backend NAME``: run one depth backend.

Writes the backend's disparity (float32, larger = nearer) at the backend's own output grid —
for Tiefenrausch the grid of the official script, so the file compares directly with the
official outputs — or, with ``--full-res``, resized to the photo. OUT is written through a
temporary file and renamed, so a failed run never leaves a half-written OUT. Errors print one
message on stderr and exit with status 2 (Ctrl-C: 130).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import PipelineError
from ..io.atomic import atomic_write
from ..settings import PipelineSettings
from .cli_errors import check_output_path, interruptible


def _backend_names() -> list[str]:
    from ..depth.registry import BACKEND_MODULES

    return sorted(BACKEND_MODULES)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``depth`` subcommand to an ``argparse`` subparsers object."""
    parser = subparsers.add_parser(
        "depth",
        help="estimate depth (disparity) for a photo and save it as .npy",
        description=__doc__.split("\n\n")[1].replace("``", "") if __doc__ else None,
    )
    parser.add_argument("photo", help="input photo (JPEG, PNG, TIFF, WebP)")
    parser.add_argument("-o", "--output", required=True, help="output .npy file (float32)")
    parser.add_argument(
        "--backend",
        default=None,
        choices=_backend_names(),
        help="depth network (default: automatic, i.e. Depth Anything V2 Small when PyTorch is "
        "installed, else Tiefenrausch run by OpenCV); -base/-large weights are CC-BY-NC-4.0 "
        "(non-commercial) and must be in --model-dir",
    )
    parser.add_argument(
        "--full-res",
        action="store_true",
        help="resize the disparity (bilinear) to the photo's resolution",
    )
    parser.add_argument(
        "--model-dir",
        default="",
        help="folder with local model files (searched before $ONESHOT3D_MODEL_DIR and the "
        "download cache)",
    )
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda", "mps"))
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the ``depth`` subcommand; returns the exit status (0 ok, 2 error)."""
    try:
        return _run(args)
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: {e.strerror or e} ({e.filename or args.output})", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..depth.availability import default_network, torch_installed
    from ..depth.registry import native_estimator
    from ..io.image_io import read_photo

    if args.backend is None:
        args.backend = default_network(torch_installed())
    settings = PipelineSettings(
        filepath=args.photo,
        depth_backend=args.backend,
        model_dir=args.model_dir,
        device=args.device,
    ).validate()
    output = Path(args.output)
    check_output_path(output, creates_folders=False)  # before the network runs, not after
    estimate_native = native_estimator(args.backend)
    photo = read_photo(args.photo)
    start = time.perf_counter()
    disparity = np.asarray(estimate_native(photo, settings), dtype=np.float32)
    if args.full_res and disparity.shape != (photo.height, photo.width):
        # Every backend exposes estimate_native; resizing here treats them all alike.
        size = (photo.width, photo.height)
        disparity = np.asarray(
            cv2.resize(disparity, size, interpolation=cv2.INTER_LINEAR), dtype=np.float32
        )
    seconds = time.perf_counter() - start
    disparity = np.ascontiguousarray(disparity, dtype=np.float32)
    _save_atomic(output, disparity)
    h, w = disparity.shape
    print(
        f"{args.output}: {w}x{h} disparity from {args.backend} "
        f"(photo {photo.width}x{photo.height}, {seconds:.2f} s)"
    )
    return 0


def _save_atomic(path: Path, array: np.ndarray) -> None:
    # Written to an open file, np.save keeps the exact name (it appends .npy to bare paths).
    atomic_write(path, lambda f: np.save(f, array))


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m pipeline.runtime.cli_depth depth ...``), same as the dispatcher."""
    parser = argparse.ArgumentParser(prog="python -m pipeline")
    sub = parser.add_subparsers(dest="command", required=True)
    add_parser(sub)
    args = parser.parse_args(argv)
    return interruptible(lambda: int(args.func(args)))


if __name__ == "__main__":
    sys.exit(main())
