#!/usr/bin/env bash
# The prepared GPU check (issue 15): installs nothing; see bench/gpu_check.py.
set -euo pipefail
cd "$(dirname "$0")/.."
exec timeout 300 python3 bench/gpu_check.py "$@"
