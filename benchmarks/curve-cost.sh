#!/usr/bin/env bash
# What encryption costs: CURVE against plaintext for one weight-sized message
# (benchmarks/tools/curve-message-cost.c), then whole runs of 2 workers x 512 (a global
# --batch of 1024) over tcp loopback, plaintext and CURVE alternating (dptrain bench --secure).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product dptrain >/dev/null 2>&1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
gcc -O2 -o "$dir/curve-message-cost" benchmarks/tools/curve-message-cost.c -lzmq
"$dir/curve-message-cost" 0
"$dir/curve-message-cost" 1
.build/release/dptrain bench --workers 2 --batch 1024 --epochs 3 --secure --rounds "${ROUNDS:-5}"
