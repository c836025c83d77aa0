#!/usr/bin/env bash
# All checks: lint, format, types, unit tests and real-Blender integration tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup_venv.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
bash scripts/typecheck.sh
.venv/bin/python -m pytest -q -p no:cacheprovider tests "$@"
