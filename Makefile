# The two commands: `make run` plays the default scenario, `make test` runs the whole suite.
# Both set everything up first (system packages, .venv, pinned packages, the local model).
.PHONY: setup run test bench lint pack

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/bergain-actors run scenarios/default.toml $(ARGS)

test: setup
	.venv/bin/python -m pytest -q $(ARGS)

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

pack: setup
	.venv/bin/python -m bergain_actors.music.synth sample_pack
