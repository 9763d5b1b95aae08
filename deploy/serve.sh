#!/usr/bin/env bash
# Serve the dashboard on a shared server: public mode on unless DETECTOR_PUBLIC says otherwise,
# headless, on $ADDRESS:$PORT (default 0.0.0.0:8501). Settings come from the environment (see the
# README's "Data and settings"); secrets ([auth], [roles]) from .streamlit/secrets.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
export DETECTOR_PUBLIC="${DETECTOR_PUBLIC:-1}"
exec python3 -m streamlit run app.py --server.port "${PORT:-8501}" --server.address "${ADDRESS:-0.0.0.0}" \
  --server.headless true --browser.gatherUsageStats false
