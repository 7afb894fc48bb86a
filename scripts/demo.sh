#!/usr/bin/env bash
# The main job: starts the coordinator with an embedded device farm and worker on a free loopback
# port (a fresh registry: it registers the shipped models, nafnet-base and ern-net, and scores
# them), submits configs/search/demo.yaml (a short search from the shipped baseline with
# promote: true), watches it to the end, prints baseline NAFNet vs the derived ERN-Net (params,
# G MACs, measured latency, peak memory, PSNR/SSIM per sigma), shows the quality gate deciding
# whether the demo's model replaces the default, and denoises a noisy sample through Denoise.
# Expects a build in build/ and data in data/images (make demo does both first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ernctl=build/bin/ernctl
out=out/demo
rm -rf "$out"
mkdir -p "$out"
source scripts/coordinator-on-loopback.sh

# Waits until every registered model has its quality score and no promotion is pending.
wait_for_gate() {
  for _ in $(seq 600); do
    if "$ernctl" models list --json --server "$address" | /usr/bin/python3 -c '
import json, sys
models = json.load(sys.stdin)
sys.exit(0 if all("quality" in m and m.get("promotion") != "pending" for m in models) else 1)'; then
      return 0
    fi
    sleep 1
  done
  echo "demo: the quality gate did not settle in 10 minutes" >&2
  return 1
}

echo "== the shipped models, scored by the quality gate (val photographs, sigma 25)"
wait_for_gate
"$ernctl" models list --server "$address"

echo "== submit configs/search/demo.yaml (from models/nafnet-base, promote: true) and watch it"
job=$("$ernctl" search submit configs/search/demo.yaml --team demo --watch --server "$address" | tail -n 1)
model=$("$ernctl" search get "$job" --json --server "$address" |
  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["model"])')
"$ernctl" models get "$model" --server "$address"
"$ernctl" search report "$job" -o "$out/report.html" --server "$address" >/dev/null
echo "search report (curves, genotype, baseline vs ERN-Net): open $out/report.html in a browser"

echo "== the quality gate decides whether $model replaces the default"
wait_for_gate
"$ernctl" models list --server "$address"
"$ernctl" models get "$model" --json --server "$address" | /usr/bin/python3 -c '
import json, sys
model = json.load(sys.stdin)
print(model["name"] + ": promotion " + model.get("promotion", "not asked"))'

echo "== denoise a sample through the service (Denoise RPC, default model)"
sample=data/images/val/opencv-baboon.jpg
"$ernctl" noise "$sample" --sigma 25 --seed 0 -o "$out/sample-noisy.png"
"$ernctl" denoise "$out/sample-noisy.png" -o "$out/sample-denoised.png" --server "$address"
echo "sample $sample, sigma 25"
echo "  before (noisy):    $("$ernctl" compare "$sample" "$out/sample-noisy.png")"
echo "  after (default):   $("$ernctl" compare "$sample" "$out/sample-denoised.png")"
