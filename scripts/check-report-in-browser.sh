#!/usr/bin/env bash
# Opens ERN's HTML pages (ernctl search report / search front) in headless Chromium (Debian's
# chromium, installed here when missing), takes a screenshot of each beside it (PAGE.png), and
# fails unless the browser decoded every figure of every page.
# usage: scripts/check-report-in-browser.sh PAGE.html...   (make report-check: make report-demo's)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 PAGE.html..." >&2; exit 2; }
if ! command -v chromium >/dev/null; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends chromium
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
# No sandbox (root in containers) and nothing that reaches for the network.
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
  --disable-background-networking --disable-component-update --disable-sync
  --user-data-dir="$profile" --virtual-time-budget=10000)
for page in "$@"; do
  url="file://$(realpath "$page")"
  dom=$(chromium "${flags[@]}" --dump-dom "$url" 2>/dev/null)
  chromium "${flags[@]}" --window-size=1300,3000 --screenshot="${page%.html}.png" "$url" \
    >/dev/null 2>&1
  figures=$(grep -o 'data-figures="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' || echo 0)
  rendered=$(grep -o 'data-rendered="[0-9]*"' <<<"$dom" | grep -o '[0-9]*' || echo 0)
  if [ "$figures" -eq 0 ] || [ "$rendered" != "$figures" ]; then
    echo "$page: $rendered of $figures figures rendered" >&2
    exit 1
  fi
  echo "$page: all $figures figures rendered (screenshot ${page%.html}.png)"
done
