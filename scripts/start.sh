#!/usr/bin/env bash
# Sets up, makes the demo trial's export package, builds the warehouse and starts the dashboard.
#   PORT=8501 (default)  DEMO=data/demo  WAREHOUSE=data/warehouse
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
DEMO=${DEMO:-data/demo}
WAREHOUSE=${WAREHOUSE:-data/warehouse}
PORT=${PORT:-8501}
if [ ! -f "$DEMO/EXPORT.csv" ]; then
  .venv/bin/python -m dashboard demo-data "$DEMO"
fi
if [ ! -e "$WAREHOUSE/current" ]; then
  .venv/bin/python -m dashboard build "$DEMO" --warehouse "$WAREHOUSE"
fi
echo "Dashboard: http://localhost:$PORT" >&2
NEO_MARGIN_WAREHOUSE="$WAREHOUSE" exec .venv/bin/streamlit run app/main.py --server.port "$PORT"
