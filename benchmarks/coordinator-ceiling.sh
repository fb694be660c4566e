#!/usr/bin/env bash
# The coordinator's ceiling, float32 against bf16 on the wire, in one run:
# `dptrain bench --simulated-workers` (a real coordinator over tcp loopback
# against simulated workers that answer each step at once) for each wire
# precision, then bf16's samples/s over float32's at each worker count.
#   benchmarks/coordinator-ceiling.sh [HIDDEN] [COUNTS] [BATCH] [STEPS]
# e.g. benchmarks/coordinator-ceiling.sh 800 1,2,4,8,16 512 80
set -euo pipefail
cd "$(dirname "$0")/.."
hidden=${1:-800} counts=${2:-1,2,4,8,16} batch=${3:-512} steps=${4:-80}
swift build -c release --product dptrain >/dev/null 2>&1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
for precision in float32 bf16; do
  .build/release/dptrain bench --simulated-workers "$counts" --hidden "$hidden" --batch "$batch" --steps "$steps" \
    --wire-precision "$precision" --metrics "$dir/$precision.jsonl"
done
python3 - "$dir/float32.jsonl" "$dir/bf16.jsonl" <<'PY'
import json, sys
full, half = ([json.loads(line) for line in open(path)] for path in sys.argv[1:3])
print("workers  float32 samples/s  bf16 samples/s  bf16/float32")
for f, h in zip(full, half):
    print(f"{f['workers']:7d}  {f['samples_per_second']:17,.0f}  {h['samples_per_second']:14,.0f}  {h['samples_per_second'] / f['samples_per_second']:11.2f}x")
PY
