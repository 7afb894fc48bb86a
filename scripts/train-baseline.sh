#!/usr/bin/env bash
# Trains the shipped NAFNet baseline with configs/train/nafnet-base.yaml on data/images/train,
# recording val PSNR/SSIM at sigma 25 every 1000 steps (out/train/nafnet-base/val-curve.tsv).
# Resumable: run it again after a stop and it continues from the last checkpoint, exactly as if it
# had never stopped. Hours of CPU: run it under nice in the background.
# Expects a build in build/ and data in data/images (make build data).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-out/train/nafnet-base}
mkdir -p "$out"
if [ ! -f "$out/init/model.json" ]; then
  build/bin/ernctl model init --width 16 --enc 2,2,2,2 --middle 2 --dec 2,2,2,2 -o "$out/init"
fi
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} exec build/bin/ernctl train --config configs/train/nafnet-base.yaml --model "$out/init" \
  --data data/images --checkpoint-every 1000 --val-every 1000 --val-sigma 25 --resume -o "$out"
