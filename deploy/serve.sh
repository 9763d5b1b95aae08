#!/usr/bin/env bash
# Serve the dashboard on a shared server: public mode on unless DETECTOR_PUBLIC says otherwise,
# headless, on $ADDRESS:$PORT (default 0.0.0.0:8501). Settings come from the environment (see the
# README's "Data and settings"); secrets ([auth], [roles]) from .streamlit/secrets.toml.
# Once the server answers, the app is run once (deploy/healthcheck.py --warm) so that the first
# visitor finds the imports and the published layers ready.
set -euo pipefail
cd "$(dirname "$0")/.."
export DETECTOR_PUBLIC="${DETECTOR_PUBLIC:-1}"
port="${PORT:-8501}" address="${ADDRESS:-0.0.0.0}"
python3 -m streamlit run app.py --server.port "$port" --server.address "$address" \
  --server.headless true --browser.gatherUsageStats false --server.scriptHealthCheckEnabled true &
server=$!
trap 'kill -TERM "$server" 2>/dev/null' TERM INT
host="$address"; [ "$host" = 0.0.0.0 ] && host=127.0.0.1
python3 deploy/healthcheck.py --warm "http://$host:$port" || true
wait "$server"
