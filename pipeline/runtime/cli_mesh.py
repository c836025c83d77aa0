"""``python -m pipeline mesh PHOTO --depth FILE --depth-kind depth|disparity|relative_disparity -o OUT.glb|OUT.ply``

Builds the 3D photo's mesh without Blender and writes it as binary glTF (atlas texture
embedded, unlit material) or binary PLY (per-vertex colours). The defaults and ranges are
those of the Blender import operator (both are generated from ``pipeline.settings.SETTINGS``). Errors
print one message on stderr and exit with status 2 (Ctrl-C: 130); warnings about the inputs
(e.g. repaired depth pixels) are printed on stderr as ``warning: ...`` lines.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from ..errors import PipelineError
from ..settings import PipelineSettings
from .cli_errors import EXIT_USAGE, check_output_path, interruptible
from .cli_options import add_cli_options, cli_keywords


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``mesh`` subcommand to an ``argparse`` subparsers object."""
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
    parser.add_argument("-o", "--output", required=True, help="output file: .glb or .ply")
    add_cli_options(parser)
    parser.set_defaults(func=run)
    return parser


def settings_from_args(args: argparse.Namespace) -> PipelineSettings:
    keywords = cli_keywords(args)
    keywords.update(filepath=args.photo, depth_filepath=args.depth, depth_backend="FILE")
    return PipelineSettings.from_keywords(keywords)


def run(args: argparse.Namespace) -> int:
    from ..build import build_photo
    from ..io.export import export_mesh

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
    """Stand-alone entry (``python -m pipeline.runtime.cli_mesh``) until ``pipeline.runtime.cli`` dispatches."""
    parser = argparse.ArgumentParser(prog="python -m pipeline")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return interruptible(lambda: int(args.func(args)))


if __name__ == "__main__":
    sys.exit(main())
