#!/usr/bin/env bash
# mypy over the Blender side with fake-bpy-module. The checkout is seen through a link named
# after the extension id, so the relative imports resolve whatever the clone's folder is called.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$root" "$tmp/oneshot3d"
cd "$tmp"
"$root/.venv/bin/mypy" --config-file "$root/pyproject.toml" --cache-dir "$tmp/.mypy_cache" \
  oneshot3d/__init__.py oneshot3d/blender oneshot3d/operators oneshot3d/panels
