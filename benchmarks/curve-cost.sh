#!/usr/bin/env bash
# What encryption costs: CURVE against plaintext for one weight-sized message
# (benchmarks/tools/curve-message-cost.c), with glibc's default malloc (each
# large buffer a fresh mmap) and with large buffers kept in the heap as every
# dptrain process keeps them (ZMQ.Context); then libsodium's own speed for the
# same bytes (benchmarks/tools/aead-speed.c), the floor under CURVE's cost; then
# whole runs of 2 workers x 512 (a global --batch of 1024) over tcp loopback,
# plaintext and CURVE alternating (dptrain bench secure).
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product dptrain >/dev/null 2>&1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
gcc -O2 -o "$dir/curve-message-cost" benchmarks/tools/curve-message-cost.c -lzmq
gcc -O2 -o "$dir/aead-speed" benchmarks/tools/aead-speed.c -lsodium
heap=glibc.malloc.mmap_threshold=67108864:glibc.malloc.trim_threshold=268435456
for curve in 0 1; do
  echo "malloc's default:      $("$dir/curve-message-cost" "$curve")"
  echo "large buffers in heap: $(GLIBC_TUNABLES=$heap "$dir/curve-message-cost" "$curve")"
done
"$dir/aead-speed"
.build/release/dptrain bench secure 2 --batch 1024 --epochs 3 --rounds "${ROUNDS:-5}"
