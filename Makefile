.PHONY: venv build demo test test-compat bench sample clean

venv:
	bash scripts/setup_venv.sh

build: venv
	.venv/bin/python scripts/build_extension.py

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

# tests/blender + the headless job on bpy 4.2 LTS, 4.5 LTS, 5.0.1 and the newest 5.x; venvs
# cached in $${ONESHOT3D_COMPAT_CACHE:-~/.cache/oneshot3d-compat} (outside the repository).
test-compat:
	python3 scripts/test_compat.py

sample: venv
	.venv/bin/python scripts/make_sample.py

clean:
	rm -rf dist out .pytest_cache .mypy_cache .ruff_cache
