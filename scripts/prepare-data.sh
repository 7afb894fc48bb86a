#!/usr/bin/env bash
# Copies the natural photographs listed in scripts/data-split.tsv (shipped by Debian packages) into
# data/images/{train,val}. Idempotent; nothing is downloaded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
target="${1:-$root/data/images}"
split_list="$root/scripts/data-split.tsv"

count=0
while IFS=$'\t' read -r split package source name; do
  case "$split" in ''|'#'*) continue ;; esac
  if [ ! -f "$source" ]; then
    echo "prepare-data: $source is missing; install the Debian package '$package' (scripts/setup.sh)" >&2
    exit 1
  fi
  mkdir -p "$target/$split"
  if ! cmp -s "$source" "$target/$split/$name"; then
    cp "$source" "$target/$split/$name.tmp"
    mv "$target/$split/$name.tmp" "$target/$split/$name"
  fi
  count=$((count + 1))
done < "$split_list"
echo "prepare-data: $count images in $target (train: $(ls "$target/train" | wc -l), val: $(ls "$target/val" | wc -l))"
