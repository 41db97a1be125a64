# The two commands: `make run` plays the default scenario, `make test` runs the whole suite.
# Both set everything up first (system packages, .venv, pinned packages, the local model).
.PHONY: setup run test bench lint pack

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/bergain-actors run scenarios/default.toml $(ARGS)

# Tests run side by side in TEST_WORKERS processes (pytest-xdist): most of the suite waits on real time (Ableton at
# 120 BPM, JACK, Link, clock-paced sets), not on the CPU (load about 1 on 2 cores with 2 workers). One more than the
# cores, at least 2, at most 4 (each JACK test starts its own server and JACK allows 8 at once).
TEST_WORKERS ?= $(shell n=$$(( $$(nproc 2>/dev/null || echo 1) + 1 )); [ $$n -gt 4 ] && n=4; echo $$n)

test: setup
	.venv/bin/python -m pytest -q -n $(TEST_WORKERS) --dist loadfile $(ARGS)

bench: setup
	@for b in bench/bench_*.py; do echo "== $$b"; .venv/bin/python $$b || exit 1; done

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

pack: setup
	.venv/bin/python -m bergain_actors.music.synth sample_pack
