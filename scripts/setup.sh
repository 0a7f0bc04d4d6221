#!/usr/bin/env bash
# Creates .venv and installs the pinned requirements (quietly; again only when they changed).
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=${1:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements.txt "$REQ" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -r "$REQ"
  # the project root on the venv's path (a .pth file), so `streamlit run app/main.py` imports dashboard
  .venv/bin/python -c 'import site, os; open(os.path.join(site.getsitepackages()[0], "neo_margin.pth"), "w").write(os.getcwd() + "\n")'
  touch "$stamp"
fi
