#!/usr/bin/env bash
# Test accuracy of dptrain train --compute bf16 against float32 after 3 and after 10 epochs (each
# its own run: the cosine schedule spans the run), at 784-128-10 and 784-800-10, batch 128, seeds
# 1 to 3; each line gives both accuracies and bf16's difference in points. Long: 24 runs of 3 or
# 10 epochs; MODELS and SEEDS narrow it, e.g. MODELS=128 SEEDS="1 2 3".
#   [MODELS="128 800"] [SEEDS="1 2 3"] [EPOCHS="3 10"] benchmarks/bf16-accuracy.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
accuracy() { grep '^done' | awk '{print $4}'; }
echo "model       epochs  seed  float32  bf16    difference (points)"
for hidden in ${MODELS:-128 800}; do
  for epochs in ${EPOCHS:-3 10}; do
    for seed in ${SEEDS:-1 2 3}; do
      float32=$("$bin" train --hidden "$hidden" --epochs "$epochs" --seed "$seed" 2>&1 | accuracy)
      bf16=$("$bin" train --hidden "$hidden" --epochs "$epochs" --seed "$seed" --compute bf16 2>&1 | accuracy)
      awk -v m="784-$hidden-10" -v e="$epochs" -v s="$seed" -v f="$float32" -v b="$bf16" \
        'BEGIN {printf "%-10s  %6d  %4d  %.4f   %.4f  %+.2f\n", m, e, s, f, b, 100 * (b - f)}'
    done
  done
done
