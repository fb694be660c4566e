#!/usr/bin/env bash
# The full MNIST as CSV (written here from the bundled IDX files: 60,000 + 10,000 rows of a
# label and 784 pixels, 128 MB) against the IDX files themselves (gzipped, 11 MB): each read
# by `dptrain evaluate` (which loads the training and the test files, then scores 10,000
# samples), alternating, ROUNDS times; prints each round's seconds and peak RSS (GNU time)
# and the median ratios CSV / IDX. Single core, release build.
#   benchmarks/csv-load.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
swift build -c release --product dptrain >/dev/null 2>&1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
python3 benchmarks/tools/mnist_to_csv.py data/mnist "$dir"
dptrain=.build/release/dptrain
$dptrain train --epochs 1 --hidden 16 --save "$dir/model.safetensors" >/dev/null 2>&1
measure() { /usr/bin/time -f "%e %M" -o "$dir/time" taskset -c 0 $dptrain evaluate --model "$dir/model.safetensors" "$@" >/dev/null; cat "$dir/time"; }
echo "$(uptime)"
echo "round  idx_s  idx_rss_kb  csv_s  csv_rss_kb"
for round in $(seq 1 "$rounds"); do
  read -r idx_s idx_kb < <(measure --data data/mnist)
  read -r csv_s csv_kb < <(measure --data "$dir/mnist_train.csv" --test-data "$dir/mnist_test.csv")
  echo "$round  $idx_s  $idx_kb  $csv_s  $csv_kb" | tee -a "$dir/rounds"
done
python3 - "$dir/rounds" <<'PY'
import statistics, sys
rows = [list(map(float, line.split()[1:])) for line in open(sys.argv[1])]
time = statistics.median(r[2] / r[0] for r in rows)
memory = statistics.median(r[3] / r[1] for r in rows)
print(f"median CSV / IDX: load time {time:.2f}x (target under 3x), peak RSS {memory:.2f}x (target under 2x)")
PY
