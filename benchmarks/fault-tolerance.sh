#!/usr/bin/env bash
# How fast dptrain notices a lost worker and recovers from a lost coordinator:
# real processes over tcp loopback, 784-128-10, global batch 192 (64 per worker), 3 epochs.
# Prints the time from each fault to the coordinator's reaction, and accuracies.
# usage: benchmarks/fault-tolerance.sh [deadline-seconds]
set -euo pipefail
cd "$(dirname "$0")/.."
deadline=${1:-2}
swift build -c release --product dptrain >/dev/null 2>&1
bin=$PWD/.build/release/dptrain
dir=$(mktemp -d)
trap 'pkill -P $$ 2>/dev/null; rm -rf "$dir"' EXIT
port=$((20000 + RANDOM % 20000))

now() { date +%s.%N; }
# Waits for a line matching $2 in file $1, then prints the time it was seen.
seen() { until grep -q "$2" "$1" 2>/dev/null; do sleep 0.005; done; now; }
accuracy() { grep -o 'test accuracy [0-9.]*' "$1" | tail -1 | cut -d' ' -f3; }

run() {  # run NAME FAULT: 3 workers; FAULT is none, kill or stop, applied to one worker after epoch 1
  local name=$1 fault=$2 endpoint=tcp://127.0.0.1:$((port++))
  "$bin" coordinator --bind "$endpoint" --workers 3 --batch 192 --shards 6 --step-deadline "$deadline" >"$dir/$name.out" 2>"$dir/$name.err" &
  local coordinator=$! workers=()
  for i in 1 2 3; do "$bin" worker --connect "$endpoint" >/dev/null 2>&1 & workers+=($!); done
  if [ "$fault" != none ]; then
    seen "$dir/$name.err" "epoch 1 " >/dev/null
    local start; start=$(now)
    if [ "$fault" = kill ]; then kill -KILL "${workers[1]}"; else kill -STOP "${workers[1]}"; fi
    local noticed; noticed=$(seen "$dir/$name.err" "lost at step")
    awk -v a="$start" -v b="$noticed" -v f="$fault" 'BEGIN {printf "worker SIG%s: declared lost after %.3f s\n", toupper(f), b - a}'
  fi
  wait "$coordinator"
  [ "$fault" = stop ] && kill -KILL "${workers[1]}" 2>/dev/null
  echo "$name: test accuracy $(accuracy "$dir/$name.out")"
  wait 2>/dev/null || true
}

run uninterrupted none
run killed kill
run hung stop

# The coordinator: SIGKILL after its first checkpoint, then --resume.
endpoint=tcp://127.0.0.1:$((port++))
args=(--bind "$endpoint" --workers 2 --batch 128 --checkpoint "$dir/checkpoints" --checkpoint-every 150 --save "$dir/resumed.safetensors")
"$bin" coordinator "${args[@]}" >/dev/null 2>"$dir/first.err" & first=$!
for i in 1 2; do "$bin" worker --connect "$endpoint" >/dev/null 2>"$dir/worker$i.err" & done
until [ -e "$dir/checkpoints/checkpoint-0000000150.dpck" ]; do sleep 0.005; done
kill -KILL "$first"; wait "$first" 2>/dev/null || true
restart=$(now)
"$bin" coordinator "${args[@]}" --resume >"$dir/second.out" 2>"$dir/second.err" & second=$!
resumed=$(seen "$dir/second.err" "training with 2 worker")
wait "$second"
awk -v a="$restart" -v b="$resumed" 'BEGIN {printf "coordinator SIGKILL + --resume: both workers back and training %.3f s after the restart\n", b - a}'
echo "resumed: test accuracy $(accuracy "$dir/second.out")"
