#!/usr/bin/env bash
# Fetches, once, the Leaflet-side scripts that folium/leafmap load from public CDNs, from the npm
# registry (the one place build machines can reach), so real-browser tests can serve them locally.
set -euo pipefail
dest="$(cd "$(dirname "$0")" && pwd)/.vendor"
pkgs=(leaflet@1.9.3 leaflet-draw@1.0.2 jquery@3.7.1 bootstrap@5.2.2 leaflet.fullscreen@3.0.0
      drmonty-leaflet-awesome-markers@2.0.2 @fortawesome/fontawesome-free@6.2.0
      leaflet-control-geocoder@2.4.0)
mkdir -p "$dest"
for spec in "${pkgs[@]}"; do
  name="${spec%@*}"
  [ -f "$dest/$name/package.json" ] && continue
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null 2>&1) || { echo "npm pack $spec failed" >&2; exit 1; }
  mkdir -p "$dest/$name"
  tar -xzf "$tmp"/*.tgz -C "$dest/$name" --strip-components=1
  rm -rf "$tmp"
done
