#!/usr/bin/env bash
# The main job: starts the coordinator with an embedded device farm and worker on a free loopback
# port, submits configs/search/demo.yaml, watches it to the end, makes the derived ERN-Net the
# default model, prints baseline NAFNet vs ERN-Net (params, G MACs, measured latency, PSNR) and
# denoises a noisy sample through the Denoise RPC.
# Expects a build in build/ and data in data/images (make demo does both first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ernctl=build/bin/ernctl
out=out/demo
rm -rf "$out"
mkdir -p "$out"
log=$out/coordinator.log
# The farm measures on this same host: keep idle OpenMP threads of the training from spinning on
# the cores while the farm times a network.
export OMP_WAIT_POLICY=PASSIVE

build/bin/ern-coordinator --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data "$out/coordinator" \
  --embedded-devicefarm --embedded-workers 1 > "$log" 2>&1 &
coordinator_pid=$!
trap 'kill $coordinator_pid 2>/dev/null; wait $coordinator_pid 2>/dev/null || true' EXIT
address=
for _ in $(seq 100); do
  address=$(grep -o 'ern-coordinator listening on [^ ]*' "$log" | head -n 1 | cut -d' ' -f4 || true)
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { echo "demo: ern-coordinator did not start:" >&2; cat "$log" >&2; exit 1; }
echo "== coordinator on $address (embedded device farm and worker; log in $log)"

echo "== submit configs/search/demo.yaml and watch it"
job=$("$ernctl" search submit configs/search/demo.yaml --team demo --watch --server "$address" | tail -n 1)
model=$("$ernctl" search get "$job" --json --server "$address" |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["model"])')

echo "== make $model the default model"
"$ernctl" models set-default "$model" --server "$address"
"$ernctl" models get "$model" --server "$address"

echo "== denoise a sample through the service (Denoise RPC, default model)"
sample=data/images/val/opencv-baboon.jpg
"$ernctl" noise "$sample" --sigma 25 --seed 0 -o "$out/sample-noisy.png"
"$ernctl" denoise "$out/sample-noisy.png" -o "$out/sample-denoised.png" --server "$address"
echo "sample $sample, sigma 25"
echo "  before (noisy):    $("$ernctl" compare "$sample" "$out/sample-noisy.png")"
echo "  after (ERN-Net):   $("$ernctl" compare "$sample" "$out/sample-denoised.png")"
