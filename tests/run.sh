#!/usr/bin/env bash
# Installs everything the tests need and runs them all: Python packages, Debian's Chromium for
# the real-browser tests (Playwright cannot download browsers on offline build machines), then
# pytest against the published-data mirror (../shared/amw unless DETECTOR_MIRROR says otherwise).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q -r requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
# Real Sentinel-2 patches (BigEarthNet's example archive, Apache-2.0) from the PyPI wheel that ships them.
[ -f tests/.data/bigearthnet_common-2.8.0-py3-none-any.whl ] ||
  python3 -m pip download -q --no-deps bigearthnet-common==2.8.0 -d tests/.data
bash tests/browser/vendor.sh  # Leaflet & co. from the npm registry, served to the browser in place of CDNs
export DETECTOR_MIRROR="${DETECTOR_MIRROR:-$(cd .. && pwd)/shared/amw}"
# The label store is tested on SQLite and on PostgreSQL (Debian's server, started here when none is named).
if [ -z "${TEST_DATABASE_URL:-}" ]; then
  TEST_DATABASE_URL="$(bash tests/postgres.sh)" && [ -n "$TEST_DATABASE_URL" ] && export TEST_DATABASE_URL &&
    echo "label-store tests also run on PostgreSQL: ${TEST_DATABASE_URL%%:*}://…@${TEST_DATABASE_URL#*@}"
fi
exec python3 -m pytest "$@"
