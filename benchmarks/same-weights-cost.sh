#!/usr/bin/env bash
# What the same weights for any number of workers cost in throughput: a dptrain built from before
# --batch became global (BEFORE, where --batch is per worker) against this checkout's release
# build, at the same global batch and worker count, alternating, ROUNDS times:
#   BEFORE=/tmp/before-build/release/dptrain benchmarks/same-weights-cost.sh [BATCH] [ROUNDS] [EPOCHS] [WORKERS]
# (default 1024 7 3 "1 2"). Each round runs BEFORE's `bench --workers W --batch BATCH/W` then
# this build's `bench --workers W --batch BATCH`, and prints both samples/s; the medians and
# the median of the rounds' ratios close. Both are called with the older spelling of `bench
# workers W`, which every build reads. Build BEFORE from a commit before the change, e.g.
#   git worktree add /tmp/before 41b8c00 && (cd /tmp/before && swift build -c release --scratch-path /tmp/before-build)
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-1024}; rounds=${2:-7}; epochs=${3:-3}; workers=${4:-1 2}
before=${BEFORE:?set BEFORE to a dptrain from before --batch became global}
# DPTRAIN names a prebuilt "after" (a machine without Swift, such as the 16-core one).
after=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
rate() { awk '$2 == "ipc" {gsub(",", "", $3); print $3}'; }
results=$(mktemp); trap 'rm -f "$results"' EXIT
for round in $(seq "$rounds"); do
  for w in $workers; do
    old=$("$before" bench --workers "$w" --batch $((batch / w)) --epochs "$epochs" | rate)
    new=$("$after" bench --workers "$w" --batch "$batch" --epochs "$epochs" | rate)
    echo "round $round, $w worker(s), global batch $batch: before $old, after $new samples/s (load $(cut -d' ' -f1 /proc/loadavg))"
    echo "$w $old $new" >>"$results"
  done
done
for w in $workers; do
  awk -v w="$w" '$1 == w {b[++n] = $2; a[n] = $3; r[n] = $3 / $2}
    function median(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
                                      return n % 2 ? x[(n + 1) / 2] : (x[n / 2] + x[n / 2 + 1]) / 2 }
    END {mb = median(b, n); ma = median(a, n); printf "%d worker(s): median before %d, after %d samples/s: %.3f; median of the rounds'"'"' ratios %.3f\n", w, mb, ma, ma / mb, median(r, n)}' "$results"
done
