#!/usr/bin/env bash
# Unequal workers (issue 22), as root on a machine with cgroup v1's cpu controller:
#  1. throughput: a coordinator and 2 one-thread workers, global batch 512 over 16 shards, for
#     EPOCHS epochs (default 4): unthrottled; then one worker held to half a core (cfs_quota_us
#     50000 of cfs_period_us 100000, a cgroup this script makes and removes) with --rebalance on,
#     and with --rebalance off; alternating, ROUNDS times (default 3); samples/s of each, the
#     throttled runs against 0.75 x the unthrottled one (what 1.5 cores could do), and on over off.
#  2. a stalling worker: one of the two stopped (SIGSTOP) for 300 ms of every second for 10 s,
#     then left alone; when the shards moved away and back (the rebalanced events' times, from
#     the first stop and from the last), and whether the model equals train's with the same flags.
#   sudo benchmarks/rebalance.sh [ROUNDS] [EPOCHS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
epochs=${2:-4}
bin=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
group=/sys/fs/cgroup/cpu/dptrain-rebalance-$$
dir=$(mktemp -d)
cleanup() { for pid in $(cat "$group/cgroup.procs" 2>/dev/null); do echo "$pid" > /sys/fs/cgroup/cpu/cgroup.procs; done; rmdir "$group" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT
mkdir "$group"
echo 100000 > "$group/cpu.cfs_period_us"
echo 50000 > "$group/cpu.cfs_quota_us"
flags=(--batch 512 --shards 16 --epochs "$epochs")
rate() { grep -o '[0-9,]* samples/s' | tail -1 | tr -d ',' | cut -d' ' -f1; }

# A coordinator and two workers; THROTTLE=1 puts the second in the half-core cgroup.
run() {
  local rebalance=$1 throttle=$2 endpoint="ipc://$dir/run.sock"
  "$bin" worker --connect "$endpoint" --threads 1 2>"$dir/w1.err" &
  local w1=$!
  "$bin" worker --connect "$endpoint" --threads 1 2>"$dir/w2.err" &
  local w2=$!
  [ "$throttle" = 1 ] && echo "$w2" > "$group/cgroup.procs"
  "$bin" coordinator --bind "$endpoint" --workers 2 --rebalance "$rebalance" "${flags[@]}" ${FLAGS:-} 2>&1 | grep 'done:' | rate
  wait "$w1" "$w2" || true
}

echo "# $(date -u +%FT%TZ) $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# 784-128-10 ${FLAGS:-}, batch 512 over 16 shards, $epochs epochs, 2 one-thread workers"
echo "round  unthrottled  throttled-on  throttled-off  on/(0.75 x unthrottled)  on/off"
results=$dir/results
for round in $(seq "$rounds"); do
  full=$(run on 0); on=$(run on 1); off=$(run off 1)
  echo "$round $full $on $off" | tee -a "$results" | awk '{printf "%5d  %11d  %12d  %13d  %23.2f  %6.2fx\n", $1, $2, $3, $4, $3 / (0.75 * $2), $3 / $4}'
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
print("medians: on/(0.75 x unthrottled) %.2f  on/off %.2fx" % (
    statistics.median(r[2] / (0.75 * r[1]) for r in rows), statistics.median(r[2] / r[3] for r in rows)))
PY

echo "# a worker stopped for 300 ms of every second for 10 s, then left alone"
stall_flags=(--batch 512 --shards 16 --epochs "${STALL_EPOCHS:-30}" --hidden 512)
"$bin" train "${stall_flags[@]}" --save "$dir/train.safetensors" >/dev/null 2>&1
endpoint="ipc://$dir/stall.sock"
"$bin" worker --connect "$endpoint" --threads 1 2>"$dir/s1.err" &
w1=$!
"$bin" worker --connect "$endpoint" --threads 1 2>"$dir/s2.err" &
w2=$!
"$bin" coordinator --bind "$endpoint" --workers 2 "${stall_flags[@]}" --metrics "$dir/stall.jsonl" --save "$dir/stall.safetensors" >"$dir/stall.out" 2>&1 &
coordinator=$!
until grep -q '"event":"epoch"' "$dir/stall.jsonl" 2>/dev/null; do sleep 0.1; done
first_stop=$(date +%s.%N)
for second in $(seq 10); do kill -STOP "$w2"; sleep 0.3; kill -CONT "$w2"; sleep 0.7; done
last_stop=$(date +%s.%N)
wait "$coordinator"
wait "$w1" "$w2" || true
python3 - "$dir/stall.jsonl" "$first_stop" "$last_stop" <<'PY'
import json, sys
first, last = float(sys.argv[2]), float(sys.argv[3])
moves = [json.loads(l) for l in open(sys.argv[1]) if '"event":"rebalanced"' in l]
for m in moves:
    t = m["time"]
    where = "after the first stop" if t < last else "after the stalls ended"
    print("  %+6.1f s %s: shards %s, samples/s %s" % (t - (first if t < last else last), where, m["shards"], m["samples_per_second"]))
if not moves: print("  no rebalanced event")
ends = [json.loads(l)["time"] for l in open(sys.argv[1]) if '"event":"done"' in l]
if ends: print("  the run ended %+.1f s after the stalls ended" % (ends[-1] - last))
PY
if cmp -s "$dir/train.safetensors" "$dir/stall.safetensors"; then echo "  the model equals train's, to the bit"; else echo "  THE MODEL DIFFERS from train's"; fi
