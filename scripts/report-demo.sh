#!/usr/bin/env bash
# make report-demo: a small Pareto sweep (configs/search/sweep-demo.yaml at three latency weights)
# on a coordinator on loopback, then the search report of one of its jobs and the sweep's front,
# each one self-contained HTML page in out/report-demo/ to open in a browser. Minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ernctl=build/bin/ernctl
out=out/report-demo
rm -rf "$out"
mkdir -p "$out"
source scripts/coordinator-on-loopback.sh

sweep=$("$ernctl" search sweep configs/search/sweep-demo.yaml --lambda-latency 0,0.5,4 \
  --name report-demo --server "$address" | tail -n 1)
jobs=$("$ernctl" search list --sweep "$sweep" --json --server "$address" |
  /usr/bin/python3 -c 'import json, sys; print(" ".join(job["id"] for job in json.load(sys.stdin)))')
for job in $jobs; do
  echo "== $job"
  "$ernctl" search watch "$job" --server "$address"
done
"$ernctl" search front "$sweep" -o "$out/front.html" --server "$address"
"$ernctl" search report "${jobs%% *}" -o "$out/report.html" --server "$address" >/dev/null
echo "open $out/report.html (a search) and $out/front.html (the sweep) in a browser"
