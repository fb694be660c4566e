#!/usr/bin/env bash
# dptrain launch --workers 2 --batch 256 (a coordinator and two workers on this machine,
# shared memory on, then off) against dptrain train --batch 128, alternating, ROUNDS times:
# samples/s of each, and launch's over train's. --batch is the global batch, so launch's 256 is
# 128 a worker: each process does train's work per step, as issue 13 compares (launch --workers 2
# --batch 128 when --batch was per worker). launch at 256 trains another model than train at 128.
#   [BEFORE=<older dptrain>] benchmarks/launch-against-train.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
# DPTRAIN names a prebuilt dptrain (a machine without Swift); otherwise this checkout's release build.
# BEFORE names another build (older code): then each round runs each build's train and its launch
# with shared memory, before then after, and prints the two ratios instead.
bin=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
rate() { grep -o '[0-9,]* samples/s' | tr -d ',' | cut -d' ' -f1; }
if [ -n "${BEFORE:-}" ]; then
  echo "round  before: train  launch  ratio  after: train  launch  ratio"
  for round in $(seq "$rounds"); do
    row="$round"
    for build in "$BEFORE" "$bin"; do
      train=$("$build" train --batch 128 2>&1 | grep '^done' | rate)
      shared=$("$build" launch --workers 2 --batch 256 2>&1 | grep 'done:' | rate)
      row="$row $train $shared"
    done
    echo "$row" | awk '{printf "%5d  %13d  %6d  %4.2fx  %12d  %6d  %4.2fx\n", $1, $2, $3, $3 / $2, $4, $5, $5 / $4}'
  done
  exit 0
fi
echo "round  train samples/s  launch (shared memory)  ratio  launch (--shared-memory off)  ratio"
for round in $(seq "$rounds"); do
  train=$("$bin" train --batch 128 2>&1 | grep '^done' | rate)
  shared=$("$bin" launch --workers 2 --batch 256 2>&1 | grep 'done:' | rate)
  socket=$("$bin" launch --workers 2 --batch 256 --shared-memory off 2>&1 | grep 'done:' | rate)
  awk -v r="$round" -v t="$train" -v s="$shared" -v o="$socket" \
    'BEGIN {printf "%5d  %15d  %22d  %4.2fx  %28d  %4.2fx\n", r, t, s, s / t, o, o / t}'
done
