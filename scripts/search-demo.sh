#!/usr/bin/env bash
# The hardware-aware search on one machine: starts ern-devicefarm on a free loopback port, runs
# configs/search/demo.yaml in process against it, prints baseline vs ERN-Net, stops the farm.
# Expects a build in build/ and data in data/images (make search-demo does both first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-out/search-demo}
source scripts/devicefarm-on-loopback.sh
build/bin/ernctl search run-local configs/search/demo.yaml --devicefarm "$devicefarm_address" -o "$out"
