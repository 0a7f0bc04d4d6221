#!/usr/bin/env bash
# Sets up, makes the demo trial's export package, builds it into the demo warehouse and starts the
# dashboard in DEMO MODE: the demo accounts of the README work, and only on the build made here.
#   PORT=8501 (default)  DEMO=data/demo  WAREHOUSE=data/demo-warehouse
# A real trial is never started this way: `NEO_MARGIN_WAREHOUSE=DIR .venv/bin/streamlit run app/serve.py`
# (no NEO_MARGIN_DEMO) has no demo accounts at all, whatever the export's SOURCE says.
set -euo pipefail
cd "$(dirname "$0")/.."
umask 077  # what this writes (package, warehouse, audit) is the service user's only
bash scripts/setup.sh requirements.txt
DEMO=${DEMO:-data/demo}
WAREHOUSE=${WAREHOUSE:-data/demo-warehouse}
PORT=${PORT:-8501}
# Demo mode never takes over a warehouse that serves anything but the demo trial.
if [ -e "$WAREHOUSE/current" ] && ! .venv/bin/python -c '
import sys
from dashboard.store import warehouse
sys.exit(0 if warehouse.manifest(sys.argv[1]).get("is_demo") is True else 1)' "$WAREHOUSE"; then
  echo "error: $WAREHOUSE serves a trial export, not the demo: start it without demo mode," \
    "NEO_MARGIN_WAREHOUSE=$WAREHOUSE .venv/bin/streamlit run app/serve.py" >&2
  exit 2
fi
# The generator's own output every time (byte-identical for the same arguments), built afresh: the
# build the demo accounts may open is the one made here from it, pinned below by its id. A later
# build of anything into this warehouse has another id, and the demo accounts stop opening it.
.venv/bin/python -m dashboard demo-data "$DEMO"
.venv/bin/python -m dashboard build "$DEMO" --warehouse "$WAREHOUSE"
BUILD=$(.venv/bin/python -c '
import sys
from dashboard.store import warehouse
print(warehouse.manifest(sys.argv[1])["build_id"])' "$WAREHOUSE")
echo "Dashboard (demo mode, demo build $BUILD): http://localhost:$PORT" >&2
NEO_MARGIN_DEMO=1 NEO_MARGIN_DEMO_BUILD="$BUILD" NEO_MARGIN_WAREHOUSE="$WAREHOUSE" \
  exec .venv/bin/streamlit run app/serve.py --server.port "$PORT"
