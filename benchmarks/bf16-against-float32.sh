#!/usr/bin/env bash
# dptrain train --compute bf16 against dptrain train (float32), on one pinned core, alternating,
# ROUNDS times, at 784-128-10 --batch 128 and 784-800-10 --batch 512 (1 epoch each): samples/s of
# the training loop (evaluation excluded) of each, bf16's over float32's, and the median ratio.
# Prints the CPU, oneDNN's kernels (dptrain bench's bf16 line) and the load beside the figures.
#   [CORE=0] benchmarks/bf16-against-float32.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
core=${CORE:-0}
bin=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
rate() { grep '^done' | grep -o '[0-9,]* samples/s' | tr -d ',' | cut -d' ' -f1; }
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p') (family $(lscpu | sed -n 's/^CPU family: *//p'), model $(lscpu | sed -n 's/^Model: *//p')), core $core; $(uptime)"
taskset -c "$core" "$bin" bench --models 784-128-10 --batches 128 --seconds 0.5 | grep '^bf16:'
for model in "128 128" "800 512"; do
  set -- $model
  echo "784-$1-10 --batch $2"
  echo "round  float32 samples/s  bf16 samples/s  bf16 / float32"
  ratios=()
  for round in $(seq "$rounds"); do
    float32=$(taskset -c "$core" "$bin" train --hidden "$1" --batch "$2" --epochs 1 2>&1 | rate)
    bf16=$(taskset -c "$core" "$bin" train --hidden "$1" --batch "$2" --epochs 1 --compute bf16 2>&1 | rate)
    ratio=$(awk -v a="$bf16" -v b="$float32" 'BEGIN {printf "%.3f", a / b}')
    ratios+=("$ratio")
    printf "%5d  %17d  %14d  %13sx\n" "$round" "$float32" "$bf16" "$ratio"
  done
  printf '%s\n' "${ratios[@]}" | sort -n | awk '{r[NR] = $1} END {printf "median bf16 / float32: %.3fx over %d rounds\n", (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2), NR}'
done
echo "$(uptime)"
