.PHONY: venv build demo test bench sample clean

venv:
	bash scripts/setup_venv.sh

build: venv
	.venv/bin/python scripts/build_extension.py

demo:
	bash scripts/demo.sh

test:
	bash scripts/test.sh

sample: venv
	.venv/bin/python scripts/make_sample.py

clean:
	rm -rf dist out .pytest_cache .mypy_cache .ruff_cache
