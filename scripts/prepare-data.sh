#!/usr/bin/env bash
# Copies the natural photographs listed in scripts/data-split.tsv (shipped by Debian packages) into
# data/images/{train,val,holdout}, or into the folder given. Idempotent; nothing is downloaded.
# usage: scripts/prepare-data.sh [--small] [TARGET]   (--small: the tests' quick set)
set -euo pipefail
exec /usr/bin/python3 "$(dirname "$0")/prepare_data.py" "$@"
