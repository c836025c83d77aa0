"""``python -m pipeline mesh PHOTO --depth FILE --depth-kind depth|disparity|relative_disparity -o OUT.glb|OUT.ply``

Builds the 3D photo's mesh without Blender and writes it as binary glTF (atlas texture
embedded, unlit material) or binary PLY (per-vertex colours). The defaults and ranges are
those of the Blender import operator (both read ``PipelineSettings`` and ``RANGES``). Errors
print one message on stderr and exit with status 2 (Ctrl-C: 130); warnings about the inputs
(e.g. repaired depth pixels) are printed on stderr as ``warning: ...`` lines.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .cli_errors import EXIT_USAGE, check_output_path, interruptible
from .errors import PipelineError
from .settings import MESH_MODES, RANGES, PipelineSettings

# (flag, settings field, type, help) for the tunables exposed on the command line.
_OPTIONS: tuple[tuple[str, str, type, str], ...] = (
    ("--fov", "fov", float, "field of view across the longer side in degrees (0 = EXIF/default)"),
    (
        "--depth-threshold",
        "depth_threshold",
        float,
        "cut neighbours whose normalised disparity differs more",
    ),
    (
        "--depth-scale",
        "depth_scale",
        float,
        "depth maps: multiplier; disparity maps: nearest distance",
    ),
    ("--far-ratio", "far_ratio", float, "disparity maps: farthest / nearest distance at most"),
    ("--median-size", "median_size", int, "weighted median window (odd, 0 = off)"),
    ("--median-iterations", "median_iterations", int, "weighted median passes"),
    (
        "--min-edge-length",
        "min_edge_length",
        float,
        "drop depth edges shorter than this (px at 1024 px)",
    ),
    (
        "--extension",
        "extension",
        float,
        "background grown behind edges (fraction of the long side)",
    ),
    (
        "--frame-margin",
        "frame_margin",
        float,
        "scene extended beyond the frame (fraction of the long side)",
    ),
    (
        "--context-band",
        "context_band",
        float,
        "inpainting context band (fraction of the long side)",
    ),
    ("--ldi-layers", "ldi_layers", int, "number of grown layers (nesting depth)"),
    ("--inpainter", "inpainter", str, "pushpull, telea, fsr or file:PATH (TorchScript)"),
    (
        "--simplify-tolerance",
        "simplify_tolerance",
        float,
        "max relative depth error of flat blocks (0 = off)",
    ),
    ("--simplify-block", "simplify_block", int, "simplification block size (0 = auto)"),
    (
        "--geometry-megapixels",
        "geometry_megapixels",
        float,
        "bigger photos get their geometry at this size; the texture stays full resolution",
    ),
)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``mesh`` subcommand to an ``argparse`` subparsers object."""
    defaults = PipelineSettings()
    parser = subparsers.add_parser(
        "mesh",
        help="build the layered 3D photo mesh and export it as .glb or .ply",
        description="Build the layered, inpainted 3D photo mesh from a photo and its depth map "
        "and write it as binary glTF (.glb, with the texture atlas) or PLY (vertex colours).",
    )
    parser.add_argument("photo", help="input photo (JPEG, PNG, TIFF, WebP)")
    parser.add_argument(
        "--depth", required=True, help="depth or disparity map (.npy, PNG, TIFF, EXR)"
    )
    parser.add_argument(
        "--depth-kind",
        default=defaults.depth_kind.lower(),
        type=str.lower,
        choices=("depth", "disparity", "relative_disparity"),
        help="what the map holds; relative_disparity = up to scale and shift, as depth "
        "networks give it (default: %(default)s)",
    )
    parser.add_argument("-o", "--output", required=True, help="output file: .glb or .ply")
    parser.add_argument(
        "--mesh-mode",
        default=defaults.mesh_mode,
        type=str.upper,
        choices=MESH_MODES,
        help="LDI (layered, default), TORN or RUBBER (single-layer baselines)",
    )
    for flag, name, kind, text in _OPTIONS:
        limits = f", {RANGES[name][0]:g} to {RANGES[name][1]:g}" if name in RANGES else ""
        parser.add_argument(
            flag,
            dest=name,
            type=kind,
            default=getattr(defaults, name),
            help=f"{text} (default: %(default)s{limits})",
        )
    parser.set_defaults(func=run)
    return parser


def settings_from_args(args: argparse.Namespace) -> PipelineSettings:
    keywords = {name: getattr(args, name) for _, name, _, _ in _OPTIONS}
    keywords.update(
        filepath=args.photo,
        depth_filepath=args.depth,
        depth_kind=args.depth_kind.upper(),
        depth_backend="FILE",
        mesh_mode=args.mesh_mode,
    )
    return PipelineSettings.from_keywords(keywords)


def run(args: argparse.Namespace) -> int:
    from .build import build_photo
    from .export import export_mesh

    try:
        t0 = time.perf_counter()
        settings = settings_from_args(args)
        suffix = str(args.output).lower()
        if not (suffix.endswith(".glb") or suffix.endswith(".ply")):
            raise PipelineError(f"Cannot export to '{args.output}': use a .glb or .ply file name.")
        check_output_path(args.output, creates_folders=True)  # before the build, not after it
        mesh = build_photo(settings)
        for warning in mesh.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        export_mesh(mesh, args.output)
    except PipelineError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"error: {e.strerror or e} ({e.filename or args.output})", file=sys.stderr)
        return EXIT_USAGE
    print(
        f"{args.output}: {mesh.vertices.shape[0]} vertices, {mesh.triangle_count} triangles, "
        f"atlas {mesh.texture.shape[1]}x{mesh.texture.shape[0]} "
        f"({time.perf_counter() - t0:.2f} s)"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m pipeline.cli_mesh``) until ``pipeline.cli`` dispatches."""
    parser = argparse.ArgumentParser(prog="python -m pipeline")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return interruptible(lambda: int(args.func(args)))


if __name__ == "__main__":
    sys.exit(main())
