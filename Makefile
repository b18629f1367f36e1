# The lab's two entry points: `make run` (the main job) and `make test` (the whole suite).
# Both run set-up first; set-up is idempotent and takes about a second when nothing changed.
VENV := .venv
LAB := $(VENV)/bin/lab

.PHONY: setup run test lint clean

setup:
	@bash scripts/setup.sh

run: setup
	$(LAB) bench kvstore

test: setup
	$(VENV)/bin/ruff check lab plugins tests
	$(VENV)/bin/pytest -q --durations=15

lint: setup
	$(VENV)/bin/ruff check lab plugins tests

clean:
	rm -rf .lab build *.egg-info
