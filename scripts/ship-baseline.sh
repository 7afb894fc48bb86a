#!/usr/bin/env bash
# Ships the NAFNet baseline trained by scripts/train-baseline.sh: its weights so far as fp16 in
# models/nafnet-base, evaluated on val and holdout at sigma 15/25/50 beside NLM (tuned on val),
# with a model card (models/nafnet-base/README.md) and its val curve.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${1:-out/train/nafnet-base}
model=models/nafnet-base
recipe=configs/train/nafnet-base.yaml
build/bin/ernctl model export "$out" -o "$model" --fp16
for split in val holdout; do
  build/bin/ernctl eval --local "$model" --images "data/images/$split" --json >"$out/eval-$split.json"
done
steps=$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["metadata"]["provenance"]["steps"])' "$model/model.json")
planned=$(sed -n 's/^iterations: *//p' "$recipe")
status=""
if [ "$steps" -lt "$planned" ]; then status="training in progress: step $steps of $planned"; fi
/usr/bin/python3 scripts/model_card.py --model "$model" --recipe "$recipe" \
  --curve "$out/val-curve.tsv" --val "$out/eval-val.json" --holdout "$out/eval-holdout.json" \
  --title "nafnet-base: the pretrained NAFNet baseline" --status "$status" \
  --summary "The NAFNet every ERN search starts from (init_model), trained from scratch on CPU with \
ERN's own \`ernctl train\` for colour Gaussian denoising (one blind model for sigma 15, 25 and 50)." \
  --command "make build data" \
  --command "bash scripts/train-baseline.sh      # resumable; hours on 2 CPU cores" \
  --command "bash scripts/ship-baseline.sh       # fp16 export, evaluation, this card"
awk -v last="$steps" 'NR == 1 || $1 <= last' "$out/val-curve.tsv" >"$model/val-curve.tsv"
echo "shipped $model ($steps steps)"
