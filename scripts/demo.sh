#!/usr/bin/env bash
# The main job: build the extension, install it into headless Blender (the bpy module), import
# the bundled sample and write out/sample/sample.blend and out/sample/sample_preview.png.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup_venv.sh
.venv/bin/python scripts/build_extension.py
.venv/bin/python scripts/install_and_run.py samples/sample.png --depth samples/sample_depth.npy \
  --depth-kind depth --output out
