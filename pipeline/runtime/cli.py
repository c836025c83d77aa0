"""``python -m pipeline``: the pipeline's command line outside Blender.

python -m pipeline depth PHOTO -o OUT.npy [--backend NAME] [--full-res] [--model-dir DIR]
python -m pipeline mesh PHOTO --depth FILE --depth-kind depth|disparity|relative_disparity -o OUT.glb|OUT.ply
"""

from __future__ import annotations

import argparse
import sys

from . import cli_depth, cli_mesh
from .cli_errors import interruptible

COMMANDS = (cli_depth, cli_mesh)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pipeline", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers).set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return interruptible(lambda: int(args.run(args)))


if __name__ == "__main__":
    sys.exit(main())
