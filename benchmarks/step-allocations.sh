#!/usr/bin/env bash
# Allocations per distributed step: runs a coordinator and one worker for 1 and
# then 2 epochs (batch 512) with a malloc counter preloaded, and prints the
# difference per step for each process. The step loop should allocate next to
# nothing; what remains is mostly libzmq's message buffers.
# THREADS (default 1) is the worker's --threads; FLAGS are added to the coordinator's training
# flags (FLAGS="--augment elastic --dropout 0.2" counts the recipe's per-sample draws too);
# SERVERS=K (default 0) runs K parameter servers too, and counts theirs.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product dptrain >/dev/null 2>&1
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
gcc -shared -fPIC -O2 -o "$dir/count.so" benchmarks/tools/malloc-count.c -ldl
bin=$PWD/.build/release/dptrain
servers=${SERVERS:-0}
for epochs in 1 2; do
  endpoint=ipc://$dir/$epochs.sock
  LD_PRELOAD=$dir/count.so "$bin" worker --connect "$endpoint" --threads "${THREADS:-1}" 2>"$dir/worker$epochs" &
  for k in $(seq 1 "$servers"); do
    LD_PRELOAD=$dir/count.so "$bin" parameter-server --connect "$endpoint" --bind "ipc://$dir/server$k-$epochs.sock" 2>"$dir/server$k-$epochs" &
  done
  LD_PRELOAD=$dir/count.so "$bin" coordinator --bind "$endpoint" --workers 1 --batch 512 --epochs "$epochs" --parameter-servers "$servers" \
    ${FLAGS:-} 2>"$dir/coordinator$epochs" >/dev/null
  wait
done
count() { grep -o 'mallocs [0-9]*' "$1" | cut -d' ' -f2; }
steps=118   # 60,000 samples / 512 per step, one epoch
report() {
  awk -v a="$(count "$dir/${2}1")" -v b="$(count "$dir/${2}2")" -v s=$steps -v r="$1" \
    'BEGIN {printf "%s: %d mallocs for one more epoch of %d steps, %.1f a step\n", r, b - a, s, (b - a) / s}'
}
report coordinator coordinator
report worker worker
for k in $(seq 1 "$servers"); do report "parameter server $k" "server$k-"; done
