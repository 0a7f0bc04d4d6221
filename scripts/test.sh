#!/usr/bin/env bash
# Runs the whole test suite (unit, data, AppTest and browser tests) in .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-test.txt
exec .venv/bin/python -m pytest "$@"
