#!/usr/bin/env bash
# Threads against processes on this machine's cores, alternating, ROUNDS times, at one global batch
# (default 256) of 784-128-10 for EPOCHS epochs (default 2): samples/s of
#   train --threads 1, train --threads 2, launch --workers 1 --threads 2, launch --workers 2 --threads 1
# and the ratios issue 20 names (train 2 threads over 1; launch 1x2 over train 1 thread and over
# launch 2x1), then each ratio's median; and the peak resident memory of train against its threads.
#   benchmarks/threads.sh [ROUNDS] [BATCH] [EPOCHS]
# DPTRAIN names a prebuilt dptrain; otherwise this checkout's release build. FLAGS are added to
# every run (FLAGS="--hidden 800" for 784-800-10).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
batch=${2:-256}
epochs=${3:-2}
bin=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
common=(--batch "$batch" --epochs "$epochs" ${FLAGS:-})
rate() { grep -o '[0-9,]* samples/s' | tail -1 | tr -d ',' | cut -d' ' -f1; }
echo "# $(date -u +%FT%TZ) $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)); load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# batch $batch, $epochs epochs, ${FLAGS:-784-128-10}"
echo "round  train-1  train-2  launch-1x2  launch-2x1  train2/train1  launch1x2/train1  launch1x2/launch2x1"
results=$(mktemp)
for round in $(seq "$rounds"); do
  t1=$("$bin" train --threads 1 "${common[@]}" 2>&1 | grep '^done' | rate)
  t2=$("$bin" train --threads 2 "${common[@]}" 2>&1 | grep '^done' | rate)
  l12=$("$bin" launch --workers 1 --threads 2 "${common[@]}" 2>&1 | grep 'done:' | rate)
  l21=$("$bin" launch --workers 2 --threads 1 "${common[@]}" 2>&1 | grep 'done:' | rate)
  echo "$round $t1 $t2 $l12 $l21" | tee -a "$results" | awk '{printf "%5d  %7d  %7d  %10d  %10d  %12.2fx  %15.2fx  %18.2fx\n", $1, $2, $3, $4, $5, $3/$2, $4/$2, $4/$5}'
done
python3 - "$results" <<'PY'
import statistics, sys
rows = [list(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
median = lambda xs: statistics.median(xs)
print("median ratios: train2/train1 %.2fx  launch1x2/train1 %.2fx  launch1x2/launch2x1 %.2fx" % (
    median([r[2] / r[1] for r in rows]), median([r[3] / r[1] for r in rows]), median([r[3] / r[4] for r in rows])))
PY

echo "peak resident memory of train against its threads:"
for threads in 1 2 4 8; do
  /usr/bin/time -f %M -o "$results" "$bin" train --threads "$threads" --batch "$batch" --epochs 1 ${FLAGS:-} >/dev/null 2>&1
  kb=$(tail -1 "$results")
  echo "  --threads $threads: $((kb / 1024)) MiB"
done
rm -f "$results"
