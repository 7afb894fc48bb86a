#!/usr/bin/env bash
# Builds the libFuzzer targets of fuzz/ with clang (in build/fuzz) and runs each for a while on a
# working copy of its committed seed corpus (fuzz/corpus/TARGET). A crash stops the run with the
# input saved under build/fuzz/artifacts/ and a non-zero exit.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 60; make test runs a 3 s smoke)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-60}
case "$seconds" in
  '' | *[!0-9]*) echo "fuzz: SECONDS_PER_TARGET must be a whole number, got '$seconds'" >&2; exit 2 ;;
esac
build=${ERN_FUZZ_BUILD:-$root/build/fuzz}
mkdir -p "$build"
{ cmake -S "$root/fuzz" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build "$build"; } >"$build/build.log" 2>&1 ||
  { tail -n 40 "$build/build.log" >&2; echo "fuzz: the build failed ($build/build.log)" >&2; exit 1; }
mkdir -p "$build/artifacts"
export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1
for corpus in "$root"/fuzz/corpus/*/; do
  target=$(basename "$corpus")
  work="$build/corpus/$target"
  mkdir -p "$work"
  cp -n "$corpus"* "$work"/ 2>/dev/null || true
  echo "fuzz: $target for ${seconds}s"
  "$build/fuzz_$target" "$work" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$build/artifacts/$target-" -print_final_stats=1 2>"$build/$target.log" ||
    { tail -n 40 "$build/$target.log" >&2; echo "fuzz: $target crashed" >&2; exit 1; }
  grep -E '^stat::number_of_executed_units|^stat::new_units_added' "$build/$target.log" |
    sed "s/^/  /"
done
