#!/usr/bin/env bash
# The hardware-aware search on one machine: starts ern-devicefarm on a free loopback port, runs
# configs/search/demo.yaml in process against it, prints baseline vs ERN-Net, stops the farm.
# Expects a build in build/ and data in data/images (make search-demo does both first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-out/search-demo}
mkdir -p out
log=out/devicefarm.log
# The farm measures on this same host: keep idle OpenMP threads of the search from spinning on
# the cores while the farm times a network.
export OMP_WAIT_POLICY=PASSIVE

build/bin/ern-devicefarm --config configs/devicefarm.yaml --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 > "$log" 2>&1 &
farm_pid=$!
trap 'kill $farm_pid 2>/dev/null; wait $farm_pid 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  address=$(grep -o 'listening on [^ ]*' "$log" | head -n 1 | cut -d' ' -f3 || true)
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { echo "search-demo: ern-devicefarm did not start:" >&2; cat "$log" >&2; exit 1; }
echo "device farm on $address"
build/bin/ernctl search run-local configs/search/demo.yaml --devicefarm "$address" -o "$out"
