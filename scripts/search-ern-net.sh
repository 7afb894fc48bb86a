#!/usr/bin/env bash
# Makes the shipped ERN-Net (models/ern-net) and the evidence in its model card, from the shipped
# baseline models/nafnet-base, on this host (hours of CPU; run it under nice in the background):
#   1. the search of configs/search/ern-net.yaml, and its ablation without the entropy term
#      (configs/search/ern-net-no-entropy.yaml), side by side, one LibTorch thread each;
#   2. the simple genotypes it must beat, each derived from the baseline and fine-tuned with the
#      search's fine-tune budget (configs/train/ern-finetune.yaml): every block naf_lite, every
#      block naf_noca, and three random genotypes at the ERN-Net's lookup-table latency or up to 10%
#      above it, in this host's table (picked once; the card names the host);
#   3. the ERN-Net exported as fp16 to models/ern-net with report.json;
#   4. every network evaluated on val and holdout and measured by the device farm in one session,
#      and the ERN-Net's card written from all of it.
# Every step is resumable: run it again after a stop and it continues where it left off.
# `search-ern-net.sh --persist` copies the state so far (checkpoints with the lookup table each
# search read, and results) to training/ern-net/ for git; a checkout without out/ern-net resumes
# from there.
# `search-ern-net.sh --ship` does steps 3 and 4 alone, with the comparison networks finished so
# far (the card names the others as still training): run it with nothing else busy on the host,
# since the farm's latencies are read on this same machine.
# Expects a build in build/ and data in data/images (make build data).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=out/ern-net
persisted=training/ern-net
if [ "${1:-}" = "--persist" ]; then
  rm -rf "$persisted.tmp"
  mkdir -p "$persisted.tmp"
  cp -r "$out/." "$persisted.tmp/"
  find "$persisted.tmp" -name '*.log' -delete
  rm -rf "$persisted.tmp/compare/host-table"  # the picking host's farm table: genotypes.tsv has it
  # A finished search resumes from its results alone: its checkpoints stay as git holds them
  # rather than growing the history again.
  for run in search no-entropy; do
    if [ -f "$persisted.tmp/$run/report.json" ] && [ -d "$persisted/$run/work" ]; then
      rm -rf "$persisted.tmp/$run/work"
      cp -r "$persisted/$run/work" "$persisted.tmp/$run/work"
    fi
  done
  # A finished fine-tune is measured from its trained network alone: its training state (Adam
  # moments included) and its starting point are not kept.
  for done in "$persisted.tmp"/compare/*/done; do
    [ -f "$done" ] || continue
    rm -rf "$(dirname "$done")/init" "$(dirname "$done")/trained/train-state.safetensors"
  done
  rm -rf "$persisted"
  mv "$persisted.tmp" "$persisted"
  echo "search-ern-net: state in $persisted ($(du -sh "$persisted" | cut -f1))"
  exit 0
fi
if [ ! -d "$out" ] && [ -d "$persisted" ]; then
  mkdir -p out
  cp -r "$persisted" "$out"
fi
mkdir -p "$out/compare"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ernctl=build/bin/ernctl

# Quality on both splits once per network, and latency on the farm in three interleaved rounds in
# this one session (the card takes each network's median round: a round of one network alone can
# be caught by a burst of other work). NLM beside the shipped models only (the card's quality
# tables); the others are compared with them.
ship() {
  source scripts/devicefarm-on-loopback.sh
  "$ernctl" model export "$out/search" -o models/ern-net --fp16
  cp "$out/search/report.json" models/ern-net/report.json
  local networks=("nafnet-base models/nafnet-base" "ern-net models/ern-net"
    "no-entropy $out/no-entropy --no-nlm")
  while IFS=$'\t' read -r name _; do
    [ -f "$out/compare/$name/done" ] && networks+=("$name $out/compare/$name/trained --no-nlm")
  done < <(tail -n +2 "$out/compare/genotypes.tsv")
  local network name dir model nlm split round
  for network in "${networks[@]}"; do
    read -r name model nlm <<<"$network"
    dir=$out/measured/$name
    mkdir -p "$dir"
    for split in val holdout; do
      # Written under a temporary name: an evaluation cut short is not taken as done next time.
      [ -f "$dir/eval-$split.json" ] && continue
      "$ernctl" eval --local "$model" --images "data/images/$split" --json $nlm >"$dir/eval.tmp"
      mv "$dir/eval.tmp" "$dir/eval-$split.json"
    done
  done
  for round in 1 2 3; do
    for network in "${networks[@]}"; do
      read -r name model _ <<<"$network"
      "$ernctl" model profile "$model" --devicefarm "$devicefarm_address" --device cpu-1t --json \
        >"$out/measured/$name/profile-$round.json"
    done
  done
  /usr/bin/python3 scripts/ern_net_evidence.py card --out "$out" --model models/ern-net
  echo "shipped models/ern-net"
}
if [ "${1:-}" = "--ship" ]; then
  ship
  exit 0
fi
source scripts/devicefarm-on-loopback.sh

search() {  # SPEC DIR: one search, logged to DIR.log; a finished one is not run again
  [ -f "$2/report.json" ] && return 0
  "$ernctl" search run-local "$1" --devicefarm "$devicefarm_address" -o "$2" >"$2.log" 2>&1
}
search configs/search/ern-net.yaml "$out/search" &
searched=$!
search configs/search/ern-net-no-entropy.yaml "$out/no-entropy" &
ablation=$!
wait $searched || { echo "search failed, see $out/search.log" >&2; exit 1; }
wait $ablation || { echo "ablation failed, see $out/no-entropy.log" >&2; exit 1; }

# The comparison networks, picked once, in the lookup table of this host rather than the one the
# search started with (the farm's `local-cpu` devices are whichever host runs them, hosts rank
# blocks differently, and the card measures every network here); then fine-tuned two at a time.
if [ ! -f "$out/compare/genotypes.tsv" ]; then
  (
    devicefarm_data=$out/compare/host-table
    source scripts/devicefarm-on-loopback.sh
    /usr/bin/python3 scripts/ern_net_evidence.py pick --report "$out/search/report.json" \
      --devicefarm "$devicefarm_address" --picked "$out/compare/picked.json" \
      >"$out/compare/genotypes.tmp"
  )
  mv "$out/compare/genotypes.tmp" "$out/compare/genotypes.tsv"
fi
finetune() {  # NAME GENOTYPE
  local dir=$out/compare/$1
  [ -f "$dir/done" ] && return 0
  [ -f "$dir/init/model.json" ] ||
    "$ernctl" model derive models/nafnet-base --genotype "$2" -o "$dir/init" >/dev/null
  "$ernctl" train --config configs/train/ern-finetune.yaml --model "$dir/init" --data data/images \
    --checkpoint-every 100 --val-every 0 --resume -o "$dir/trained" >"$dir.log" 2>&1
  touch "$dir/done"
}
finetunes=()
while IFS=$'\t' read -r name genotype _; do
  mkdir -p "$out/compare/$name"
  finetune "$name" "$genotype" &
  finetunes+=($!)
  if [ ${#finetunes[@]} -ge 2 ]; then
    wait -n -p finished "${finetunes[@]}" || { echo "fine-tune failed, see $out/compare/*.log" >&2; exit 1; }
    for i in "${!finetunes[@]}"; do [ "${finetunes[$i]}" = "$finished" ] && unset "finetunes[$i]"; done
    finetunes=("${finetunes[@]}")
  fi
done < <(tail -n +2 "$out/compare/genotypes.tsv")
# By pid: a bare `wait` would also wait for the device farm this script started.
for pid in "${finetunes[@]}"; do
  wait "$pid" || { echo "fine-tune failed, see $out/compare/*.log" >&2; exit 1; }
done
kill "$devicefarm_pid" 2>/dev/null || true
wait "$devicefarm_pid" 2>/dev/null || true
ship
