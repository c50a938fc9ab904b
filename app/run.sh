#!/usr/bin/env bash
# Start RCFG Studio at http://localhost:8501, reachable from this machine only.
# Extra arguments go to `streamlit run`, e.g. `bash app/run.sh --server.port 8600`.
# Static serving lets the 3D viewer load app/static/3Dmol-min.js without the internet.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 -m streamlit run app/main.py --server.address localhost \
    --server.enableStaticServing true --browser.gatherUsageStats false "$@"
