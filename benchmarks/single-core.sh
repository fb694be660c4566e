#!/usr/bin/env bash
# dptrain's training loop against the NumPy anchor, both on one pinned core, in
# one run: prints `dptrain bench`, then strong_numpy.py twice (with the
# environment's OPENBLAS_CORETYPE as it is, and with OpenBLAS choosing for
# itself), then the ratios at batch 128.
# usage: benchmarks/single-core.sh [core]   (needs python3 with numpy, and ../shared/anchors)
set -euo pipefail
cd "$(dirname "$0")/.."
core=${1:-0}
anchors=${ANCHORS:-../shared/anchors}
swift build -c release --product dptrain >/dev/null
bench=$(taskset -c "$core" .build/release/dptrain bench step --models 784-128-10 --batches 128 --seconds 3)
echo "$bench"
ours=$(echo "$bench" | awk '$1 == "784-128-10" && $2 == 128 {gsub(",", "", $3); print $3}')
numpy_rate() {
  OPENBLAS_NUM_THREADS=1 taskset -c "$core" "$@" python3 "$anchors/strong_numpy.py" "$anchors/../mnist" 2 128 0.05 128 \
    | awk '{for (i = 1; i < NF; i++) if ($i == "samples_per_s") r = $(i + 1)} END {print r}'
}
as_set=$(numpy_rate env)
self_chosen=$(numpy_rate env -u OPENBLAS_CORETYPE)
echo "strong_numpy.py, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}: $as_set samples/s"
echo "strong_numpy.py, OpenBLAS choosing its kernels: $self_chosen samples/s"
awk -v o="$ours" -v a="$as_set" -v b="$self_chosen" 'BEGIN {printf "dptrain / numpy: %.2fx (as set), %.2fx (numpy on its own kernels)\n", o / a, o / b}'
