"""The headless command line's arguments, shared by ``scripts/oneshot3d.py`` and the
``blender --command oneshot3d`` handler. No bpy here, so it can be tested anywhere."""

from __future__ import annotations

import argparse


def build_parser(prog: str = "oneshot3d") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Import photos as 3D photos into .blend files and render previews.",
    )
    parser.add_argument("photo", help="a photo, or a folder of photos")
    parser.add_argument("--output", "-o", required=True, help="output folder")
    parser.add_argument("--depth", default="", help="depth map file for a single photo")
    parser.add_argument(
        "--depth-kind",
        choices=("depth", "disparity"),
        default="disparity",
        help="what the depth file holds: distance along the camera axis, or inverse depth",
    )
    parser.add_argument("--depth-threshold", type=float, default=0.04)
    parser.add_argument("--depth-scale", type=float, default=1.0)
    parser.add_argument(
        "--fov", type=float, default=0.0, help="degrees across the long side; 0 = EXIF/default"
    )
    parser.add_argument("--material", choices=("emission", "principled"), default="emission")
    parser.add_argument("--samples", type=int, default=16, help="Cycles samples for renders")
    parser.add_argument("--no-preview", action="store_true", help="skip the preview render")
    return parser


def import_keywords(args: argparse.Namespace) -> dict[str, object]:
    """The import operator's keyword arguments for these command-line arguments."""
    return {
        "depth_filepath": args.depth,
        "depth_kind": args.depth_kind.upper(),
        "depth_threshold": args.depth_threshold,
        "depth_scale": args.depth_scale,
        "fov": args.fov,
        "material": args.material.upper(),
    }
