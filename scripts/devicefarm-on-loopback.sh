# Sourced by scripts that search on this host: starts ern-devicefarm (configs/devicefarm.yaml, its
# persistent latency table in data/devicefarm, or in $devicefarm_data when set) on a free loopback
# port, sets $devicefarm_address, and stops the farm when the sourcing (sub)shell exits. Expects
# the current directory to be the repository root and a build in build/.
mkdir -p out
devicefarm_log=out/devicefarm${devicefarm_data:+-$(basename "$devicefarm_data")}.log
# The farm measures on this same host: keep idle OpenMP threads of the search from spinning on
# the cores while the farm times a network.
export OMP_WAIT_POLICY=PASSIVE
build/bin/ern-devicefarm --config configs/devicefarm.yaml --listen 127.0.0.1:0 \
  --metrics-listen 127.0.0.1:0 ${devicefarm_data:+--data "$devicefarm_data"} >"$devicefarm_log" 2>&1 &
devicefarm_pid=$!
trap 'kill $devicefarm_pid 2>/dev/null; wait $devicefarm_pid 2>/dev/null || true' EXIT
devicefarm_address=""
for _ in $(seq 100); do
  devicefarm_address=$(grep -o 'listening on [^ ]*' "$devicefarm_log" | head -n 1 | cut -d' ' -f3 || true)
  [ -n "$devicefarm_address" ] && break
  sleep 0.1
done
if [ -z "$devicefarm_address" ]; then
  echo "ern-devicefarm did not start:" >&2
  cat "$devicefarm_log" >&2
  exit 1
fi
echo "device farm on $devicefarm_address"
