# Sourced by scripts that drive a coordinator on this host: starts ern-coordinator with an embedded
# device farm and worker on a free loopback port with its data in $out/coordinator (a fresh
# registry: it registers the shipped models), sets $address, exports ERN_TOKEN (the admin token it
# wrote on first start), and stops it when the sourcing script exits. Expects $out, the current
# directory at the repository root and a build in build/.
log=$out/coordinator.log
# The farm measures on this same host: keep idle OpenMP threads of the training from spinning on
# the cores while the farm times a network.
export OMP_WAIT_POLICY=PASSIVE
build/bin/ern-coordinator --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --data "$out/coordinator" \
  --embedded-devicefarm --embedded-workers 1 > "$log" 2>&1 &
coordinator_pid=$!
trap 'kill $coordinator_pid 2>/dev/null; wait $coordinator_pid 2>/dev/null || true' EXIT
address=
for _ in $(seq 100); do
  address=$(grep -o 'ern-coordinator listening on [^ ]*' "$log" | head -n 1 | cut -d' ' -f4 || true)
  [ -n "$address" ] && break
  sleep 0.1
done
[ -n "$address" ] || { echo "ern-coordinator did not start:" >&2; cat "$log" >&2; exit 1; }
echo "== coordinator on $address (embedded device farm and worker; log in $log)"
ERN_TOKEN=$(cat "$out/coordinator/admin.token")
export ERN_TOKEN
