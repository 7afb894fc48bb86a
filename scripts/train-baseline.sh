#!/usr/bin/env bash
# Trains the shipped NAFNet baseline with configs/train/nafnet-base.yaml on data/images/train,
# recording val PSNR/SSIM at sigma 25 every 1000 steps (out/train/nafnet-base/val-curve.tsv).
# Resumable: run it again after a stop and it continues from the last checkpoint, exactly as if it
# had never stopped. A checkout without out/ resumes from the committed state in
# training/nafnet-base/ (`scripts/train-baseline.sh --persist` copies the latest state there).
# Hours of CPU: run it under nice in the background.
# Expects a build in build/ and data in data/images (make build data).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=out/train/nafnet-base
persisted=training/nafnet-base
if [ "${1:-}" = "--persist" ]; then
  mkdir -p "$persisted"
  cp "$out/train-state.safetensors" "$persisted/train-state.safetensors.tmp"
  mv "$persisted/train-state.safetensors.tmp" "$persisted/train-state.safetensors"
  cp "$out/val-curve.tsv" "$persisted/val-curve.tsv"
  echo "train-baseline: state of step $(tail -n 1 "$out/val-curve.tsv" | cut -f 1) (or later) in $persisted"
  exit 0
fi
mkdir -p "$out"
if [ ! -f "$out/init/model.json" ]; then
  build/bin/ernctl model init --width 16 --enc 2,2,2,2 --middle 2 --dec 2,2,2,2 -o "$out/init"
fi
if [ ! -f "$out/train-state.safetensors" ] && [ -f "$persisted/train-state.safetensors" ]; then
  cp "$persisted/train-state.safetensors" "$persisted/val-curve.tsv" "$out/"
fi
OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} exec build/bin/ernctl train --config configs/train/nafnet-base.yaml \
  --model "$out/init" --data data/images --checkpoint-every 1000 --val-every 1000 --val-sigma 25 \
  --resume -o "$out"
