#!/usr/bin/env bash
# Creates .venv, installs the locked requirements with their hashes checked, then the project itself
# as an editable package (quietly; again only when a lock or pyproject.toml changed), and makes the
# audit key if there is none.
#   bash scripts/setup.sh [requirements.txt | requirements-test.txt]      (see docs/packaging.md)
set -euo pipefail
cd "$(dirname "$0")/.."
REQ=${1:-requirements.txt}
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=".venv/.installed-$(cat requirements-build.txt requirements.txt "$REQ" pyproject.toml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  # pip and setuptools (the build backend of the editable install) first, locked like the rest,
  # so that nothing is fetched without a hash to check
  .venv/bin/python -m pip install --quiet --require-hashes -r requirements-build.txt
  # --no-build-isolation: a locked package shipped only as source (autograd-gamma, for lifelines)
  # is built with that locked setuptools instead of one fetched, unhashed, for an isolated build
  .venv/bin/python -m pip install --quiet --require-hashes --no-build-isolation -r "$REQ"
  # the project: its metadata, the neo-margin command, and the project root on the venv's path
  # (`streamlit run app/serve.py` imports app and dashboard). No dependency and no build
  # requirement is fetched here: they are all in the locks above.
  .venv/bin/python -m pip install --quiet --no-deps --no-build-isolation -e .
  # the hand-written path file of earlier setups, which the editable install replaces
  rm -f .venv/lib/python3*/site-packages/neo_margin.pth
  touch "$stamp"
fi
# the audit log's key (32 random bytes, data/keys/audit.key or NEO_MARGIN_AUDIT_KEY; 0600 in a 0700
# folder, outside the audit folder). Made once, never overwritten; refused, with the reason, when an
# audit log exists without its key (restore the key from its backup: a new one cannot verify it).
# the message catalogues: .po (in git) -> .mo (what gettext reads)
.venv/bin/python -m dashboard i18n compile >/dev/null
.venv/bin/python -m dashboard audit init
