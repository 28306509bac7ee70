# StreamPulse tasks. The two set-up commands from the README:
#   make up     install what is missing, start the whole stack, print the URLs
#   make test   install what is missing, run the tests (they start what they need)
#   make check  the fast gate: lint, format check, unit tests, Dagster definitions (no services, < 2 min)
.PHONY: setup up down status test check lint format

setup:
	@bash infra/setup.sh

up: setup
	.venv/bin/streampulse stack up

down:
	.venv/bin/streampulse stack down

status:
	.venv/bin/streampulse stack status

test: setup
	.venv/bin/python -m pytest

check:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
	.venv/bin/python -m pytest -q -p no:cacheprovider tests/unit tests/test_dagster_definitions.py tests/test_lint.py

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .
