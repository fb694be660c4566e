#!/usr/bin/env bash
# The coordinator's ceiling three ways in one run: float32 over tcp loopback, bf16 over
# tcp loopback, and float32 through shared memory. Each is `dptrain bench ceiling` (a real
# coordinator against simulated workers that answer each step at once); then each
# alternative's samples/s over float32 tcp's, per worker count.
#   benchmarks/coordinator-ceiling.sh [HIDDEN] [COUNTS] [BATCH] [STEPS]
# e.g. benchmarks/coordinator-ceiling.sh 800 1,2,4,8,16 512 80
set -euo pipefail
cd "$(dirname "$0")/.."
hidden=${1:-800} counts=${2:-1,2,4,8,16} batch=${3:-512} steps=${4:-80}
swift build -c release --product dptrain >/dev/null 2>&1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
bench() {
  .build/release/dptrain bench ceiling "$counts" --hidden "$hidden" --batch "$batch" --steps "$steps" "$@"
}
bench --wire-precision float32 --shared-memory off --metrics "$dir/tcp.jsonl"
bench --wire-precision bf16 --shared-memory off --metrics "$dir/bf16.jsonl"
bench --wire-precision float32 --shared-memory on --metrics "$dir/shm.jsonl"
python3 - "$dir/tcp.jsonl" "$dir/bf16.jsonl" "$dir/shm.jsonl" <<'PY'
import json, sys
tcp, bf16, shm = ([json.loads(line) for line in open(path)] for path in sys.argv[1:4])
print("workers  float32 tcp samples/s  bf16 tcp samples/s  (ratio)  float32 shared memory samples/s  (ratio)")
for t, b, s in zip(tcp, bf16, shm):
    rate = t["samples_per_second"]
    print(f"{t['workers']:7d}  {rate:21,.0f}  {b['samples_per_second']:18,.0f}  {b['samples_per_second'] / rate:6.2f}x"
          f"  {s['samples_per_second']:31,.0f}  {s['samples_per_second'] / rate:6.2f}x")
PY
