#!/usr/bin/env bash
# Offline training: trains a small NAFNet on the packaged photographs, evaluates it on the
# val split against the noisy input and OpenCV's non-local means, and denoises one sample.
# Expects a build in build/ and data in data/images (make train-demo does both first).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ernctl=build/bin/ernctl
out=out/demo
iterations=${DEMO_ITERATIONS:-1000}
mkdir -p "$out"

echo "== 1. a small NAFNet: width 16, (1-1-1-1)-1-(1-1-1-1)"
"$ernctl" model init --width 16 --enc 1,1,1,1 --middle 1 --dec 1,1,1,1 -o "$out/init"

echo "== 2. train $iterations steps on data/images/train (configs/train/demo.yaml)"
"$ernctl" train --config configs/train/demo.yaml --model "$out/init" --data data/images \
  --iters "$iterations" -o "$out/trained"

echo "== 3. evaluate on data/images/val at sigma 25 (fixed noise seed)"
"$ernctl" eval --local "$out/trained" --images data/images/val --sigma 25 --json > "$out/eval.json"

echo "== 4. denoise a sample"
sample=data/images/val/opencv-baboon.jpg
"$ernctl" noise "$sample" --sigma 25 --seed 0 -o "$out/sample-noisy.png"
"$ernctl" denoise --local "$out/trained" "$out/sample-noisy.png" -o "$out/sample-denoised.png"
before=$("$ernctl" compare "$sample" "$out/sample-noisy.png")
after=$("$ernctl" compare "$sample" "$out/sample-denoised.png")
echo "sample $sample, sigma 25"
echo "  before (noisy):    $before"
echo "  after (denoised):  $after"

/usr/bin/python3 - "$out/eval.json" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))["25"]
gain = result["model"]["psnr"] - result["noisy"]["psnr"]
print(f"val split ({result['images']} images), sigma 25, mean PSNR / SSIM:")
for label, key in (("noisy input", "noisy"), ("OpenCV NLM", "nlm"), ("NAFNet (demo)", "model")):
    print(f"  {label:14s} {result[key]['psnr']:6.2f} dB / {result[key]['ssim']:.4f}")
print(f"PSNR before {result['noisy']['psnr']:.2f} dB, after {result['model']['psnr']:.2f} dB: "
      f"{gain:+.2f} dB (the demo requires +5)")
sys.exit(0 if gain >= 5.0 else 1)
PY
echo "outputs in $out/"
