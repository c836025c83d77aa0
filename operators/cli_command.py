"""``blender -b --command oneshot3d <photo or folder> [options]`` (Blender 4.2+).

The handler parses the same arguments as ``scripts/oneshot3d.py`` (blender.cli_args) and runs
the same batch (blender.batch.run_batch); its return value is Blender's exit code.
"""

from __future__ import annotations

import sys
from typing import Any

COMMAND_ID = "oneshot3d"
_handle: Any = None


def handler(argv: list[str]) -> int:
    """Run the command line ``argv`` (the words after ``--command oneshot3d``)."""
    from ..blender.batch import run_batch
    from ..blender.cli_args import build_parser
    from ..pipeline.runtime.cli_errors import exit_at_once_on_sigint

    try:
        args = build_parser(f"blender --command {COMMAND_ID}").parse_args(argv)
    except SystemExit as e:  # --help or a usage error: argparse already printed why
        return e.code if isinstance(e.code, int) else 2
    exit_at_once_on_sigint("oneshot3d: interrupted")  # Ctrl-C: one line, exit 130
    try:
        return int(run_batch(args))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()


def register() -> None:
    global _handle
    import bpy

    if hasattr(bpy.utils, "register_cli_command") and _handle is None:
        _handle = bpy.utils.register_cli_command(COMMAND_ID, handler)


def unregister() -> None:
    global _handle
    import bpy

    if _handle is not None and hasattr(bpy.utils, "unregister_cli_command"):
        bpy.utils.unregister_cli_command(_handle)
    _handle = None
