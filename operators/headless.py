"""Headless jobs (``blender -b``): the entry point of ``scripts/oneshot3d.py`` and the
``blender --command oneshot3d`` handler; the batch itself is operators.batch_job."""

from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    """One photo or a folder: DIR/<name>/<name>.blend (+ preview, + one video per preset)
    and DIR/summary.json. Exit code 0 = all ok, 1 = some photo failed, 2 = bad command."""
    from .batch_job import run_batch

    return run_batch(args)
