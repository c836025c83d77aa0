"""The headless command line's arguments, shared by ``scripts/oneshot3d.py`` and the
``blender --command oneshot3d`` handler. No bpy here, so it can be tested anywhere. The
pipeline's options are generated from its settings table (pipeline.settings)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..pipeline.depth.availability import TORCH_DEFAULT, TORCHLESS_DEFAULT, TORCHLESS_FALLBACK
from ..pipeline.runtime.cli_options import add_cli_options, cli_keywords
from ..pipeline.settings import CLI_SETTINGS, SETTINGS
from .options import (
    AMPLITUDE_RANGE,
    DEFAULT_FRAMES,
    DEFAULT_SAMPLES,
    ENGINES,
    FRAMES_RANGE,
    MATERIALS,
    RESOLUTION_SCALE_RANGE,
    SAMPLES_RANGE,
)

# Seconds without any line from the worker before it is taken to be hung (stopped, stuck):
# the worker sends a heartbeat every few seconds while it is busy.
WORKER_TIMEOUT_DEFAULT = 120.0


def _upper(value: str) -> str:
    return value.strip().upper()


def _presets(value: str) -> list[str]:
    """``--preset SWING`` or ``--presets SWING,CIRCLE`` (repeatable; merged later)."""
    return [p.strip().upper() for p in value.split(",") if p.strip()]


def build_parser(prog: str = "oneshot3d") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=(
            "Import photos as 3D photos into .blend files, render previews and camera-move "
            "videos. Writes DIR/<name>/<name>.blend, <name>_preview.png, <name>_<preset>.mp4 "
            "and DIR/summary.json; exits non-zero when any photo failed."
        ),
    )
    parser.add_argument("photo", help="a photo, or a folder of photos (searched recursively)")
    parser.add_argument("--output", "-o", required=True, help="output folder")

    depth = parser.add_argument_group("depth")
    depth.add_argument("--depth", default="", help="depth map file for a single photo")
    depth.add_argument(
        "--depth-dir",
        default="",
        help="folder of depth maps paired with the photos by name (<stem>, <stem>_depth, ...)",
    )
    depth.add_argument(
        "--backend",
        default=None,
        help="depth network for photos without a depth file (default when no depth files are "
        f"given: automatic, i.e. {TORCH_DEFAULT} when PyTorch is installed, else "
        f"{TORCHLESS_DEFAULT}, which needs nothing beyond the extension, or "
        f"{TORCHLESS_FALLBACK} where the extension carries no ONNX Runtime)",
    )
    add_cli_options(depth, ("model_dir", "device"))
    add_cli_options(depth, [n for n in CLI_SETTINGS if SETTINGS[n].group != "ldi"])
    # Set by the batch from the preferences and what is installed (operators.jobs).
    parser.set_defaults(auto_backend=TORCH_DEFAULT)

    ldi = parser.add_argument_group("layered depth image")
    add_cli_options(ldi, [n for n in CLI_SETTINGS if SETTINGS[n].group == "ldi"])
    ldi.add_argument(
        "--material", type=str.lower, choices=[m.lower() for m in MATERIALS], default="emission"
    )

    anim = parser.add_argument_group("camera moves and rendering")
    anim.add_argument(
        "--preset",
        "--presets",
        dest="presets",
        action="append",
        type=_presets,
        default=[],
        help="camera move to render as <name>_<preset>.mp4; repeat or comma-separate "
        "(SWING, VERTICAL, CIRCLE, ZOOM_IN, DOLLY_ZOOM, KEN_BURNS); none = .blend + preview",
    )
    anim.add_argument("--frames", type=int, default=DEFAULT_FRAMES, help="frames per video")
    anim.add_argument(
        "--amplitude-scale",
        type=float,
        default=1.0,
        help="multiplier on every preset's default amplitude",
    )
    anim.add_argument("--no-loop", action="store_true", help="one-way moves instead of loops")
    anim.add_argument(
        "--resolution-scale",
        type=float,
        default=100.0,
        help="render size as a percentage of the photo's size (default 100)",
    )
    anim.add_argument("--engine", type=_upper, choices=ENGINES, default="CYCLES")
    anim.add_argument(
        "--samples", type=int, default=DEFAULT_SAMPLES, help="render samples per pixel"
    )
    anim.add_argument("--stereo", action="store_true", help="side-by-side stereo videos")
    anim.add_argument("--interaxial", type=float, default=0.0, help="0 = focus depth / 30")
    anim.add_argument("--no-preview", action="store_true", help="skip the preview render")

    batch = parser.add_argument_group("batch")
    batch.add_argument("--shard", type=int, default=0, help="this machine's shard (0-based)")
    batch.add_argument("--num-shards", type=int, default=1, help="number of shards")
    batch.add_argument(
        "--overwrite", action="store_true", help="redo photos whose outputs already exist"
    )
    batch.add_argument(
        "--worker-timeout",
        type=float,
        default=WORKER_TIMEOUT_DEFAULT,
        help="seconds without a sign of life from the depth/mesh worker before it is ended "
        f"and the photo fails (default {WORKER_TIMEOUT_DEFAULT:g}; 0 = wait forever)",
    )
    return parser


def _check_range(name: str, value: float, lo: float, hi: float, unit: str = "") -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"{name} = {value}: must be a number between {lo:g} and {hi:g}{unit}."
    if not lo <= value <= hi:
        return f"{name} = {value:g}: must be between {lo:g} and {hi:g}{unit}."
    return None


def validate_args(args: argparse.Namespace) -> list[str]:
    """Every global option checked before any photo is touched: the normalised presets, or
    SettingsError naming the first problem (the command exits 2 with that one line).

    Per-photo settings are the pipeline's (``PipelineSettings.validate``, with a placeholder
    photo) and the depth backend must be one the pipeline knows."""
    from ..pipeline.depth.registry import BACKEND_MODULES
    from ..pipeline.errors import SettingsError
    from ..pipeline.runtime.batch_plan import normalise_presets
    from ..pipeline.settings import PipelineSettings

    presets = normalise_presets(presets_of(args))
    problems = [
        _check_range("--resolution-scale", args.resolution_scale, *RESOLUTION_SCALE_RANGE, " %"),
        _check_range("--samples", args.samples, *SAMPLES_RANGE),
        _check_range("--frames", args.frames, *FRAMES_RANGE),
        _check_range("--interaxial", args.interaxial, 0.0, 1e6),
        _check_range("--amplitude-scale", args.amplitude_scale, *AMPLITUDE_RANGE),
        _check_range("--worker-timeout", args.worker_timeout, 0.0, 1e7, " s"),
    ]
    if args.amplitude_scale == 0:
        problems.append("--amplitude-scale = 0: must be more than 0 (1 = the presets' defaults).")
    for problem in problems:
        if problem:
            raise SettingsError(problem)
    if args.backend and args.backend.upper() != "FILE" and args.backend not in BACKEND_MODULES:
        raise SettingsError(
            f"--backend {args.backend!r}: unknown depth backend; choose one of: "
            f"{', '.join(sorted(BACKEND_MODULES))}."
        )
    PipelineSettings.from_keywords(pipeline_keywords(args, Path("photo.jpg")))
    return presets


def network_backend(args: argparse.Namespace, depth: Path | None) -> str | None:
    """The depth network a photo with paired depth file ``depth`` (or None) uses, or None when
    it is read from a file (``pipeline_keywords``' rule)."""
    backend = pipeline_keywords(args, Path("photo.jpg"), depth)["depth_backend"]
    return None if backend == "FILE" else str(backend)


def presets_of(args: argparse.Namespace) -> list[str]:
    """The requested presets, flattened, upper case, de-duplicated in order."""
    out: list[str] = []
    for group in args.presets or []:
        for p in group if isinstance(group, list) else [group]:
            if p not in out:
                out.append(p)
    return out


def pipeline_keywords(
    args: argparse.Namespace, photo: Path, depth: Path | None = None
) -> dict[str, Any]:
    """PipelineSettings keywords for one photo (``depth``: its paired depth file, if any).

    Backend choice: a depth file wins unless ``--backend`` names a network explicitly and no
    file was found; without any depth option the default network runs.
    """
    depth_path = str(depth) if depth is not None else ""
    if depth_path:
        backend = "FILE"
    elif args.backend:
        backend = args.backend
    elif args.depth or args.depth_dir:
        backend = "FILE"  # a depth file was expected but not found: fail with that message
    else:
        backend = args.auto_backend
    if backend.upper() == "FILE":
        backend = "FILE"
    return {
        **cli_keywords(args, (*CLI_SETTINGS, "model_dir", "device")),
        "filepath": str(photo.resolve()),
        "depth_filepath": depth_path,
        "depth_backend": backend,
    }
