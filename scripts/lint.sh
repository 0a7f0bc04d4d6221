#!/usr/bin/env bash
# Lint and format check with the pinned ruff (requirements-test.txt; settings in pyproject.toml).
# Changes nothing: to apply, `.venv/bin/ruff check --fix .` and `.venv/bin/ruff format .`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-test.txt
status=0
.venv/bin/ruff check . || status=1
.venv/bin/ruff format --check . || status=1
exit "$status"
