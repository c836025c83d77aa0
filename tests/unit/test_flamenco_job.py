"""Runs the Flamenco job compiler's Node tests (tests/js) so pytest covers them.

A Flamenco Manager cannot run here; tests/js/flamenco_job.test.mjs runs the job type script
against a stand-in for Flamenco's `author` API with Node's built-in test runner.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
JS_TESTS = sorted((ROOT / "tests" / "js").glob("*.test.mjs"))
NODE = shutil.which("node")


def _node_major() -> int:
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.match(r"v(\d+)", out.strip())
    return int(m.group(1)) if m else 0


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (needed for tests/js)")
def test_flamenco_job_compiler_node_tests():
    if _node_major() < 18:
        pytest.skip("Node.js 18 or later is needed for the built-in test runner (node --test)")
    assert JS_TESTS, "tests/js holds no *.test.mjs files"
    # Files are listed explicitly: Node 20 takes a folder, Node 22 expects file patterns.
    proc = subprocess.run(
        [NODE, "--test", *map(str, JS_TESTS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report[-4000:]
    passed = re.search(r"^# pass (\d+)", report, re.MULTILINE)
    assert passed and int(passed.group(1)) >= 10, report[-2000:]
    assert re.search(r"^# fail 0", report, re.MULTILINE), report[-2000:]
