#!/usr/bin/env bash
# Churn and floods against a 2-worker run over tcp loopback, each against a clean run of the same
# flags in the same invocation (release build; the machine may be shared: read the uptime line):
#   stall: a third worker whose every step takes longer than the step deadline (DPTRAIN_TEST_STEP_DELAY_MS),
#          so it is lost, comes back and stalls again, as often as its back-off lets it;
#   flood: 1,000 hellos in 10 s from peers that then say nothing (benchmarks/tools/hello-flood.py).
# Prints samples/s and the coordinator's peak memory (GNU time's maximum resident set) for each.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product dptrain >/dev/null 2>&1
bin=.build/release/dptrain
epochs=${EPOCHS:-40}
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
uptime

run() {  # run NAME: a coordinator and two workers, with the attack NAME beside them once training starts
  local name=$1 port=$((20000 + RANDOM % 20000))
  local endpoint=tcp://127.0.0.1:$port
  /usr/bin/time -f "%M" -o "$dir/$name.rss" "$bin" coordinator --bind "$endpoint" --workers 2 --epochs "$epochs" --batch 128 --shards 4 \
    --metrics "$dir/$name.jsonl" >"$dir/$name.out" 2>"$dir/$name.err" &
  local coordinator=$!
  local w1 w2 attacker=""
  "$bin" worker --connect "$endpoint" 2>/dev/null & w1=$!
  "$bin" worker --connect "$endpoint" 2>/dev/null & w2=$!
  until grep -q "training with" "$dir/$name.err"; do sleep 0.05; done
  case $name in
    stall*) DPTRAIN_TEST_STEP_DELAY_MS=6000 "$bin" worker --connect "$endpoint" 2>/dev/null & attacker=$! ;;
    flood*) /usr/bin/python3 benchmarks/tools/hello-flood.py "$endpoint" 1000 10 6 2 & attacker=$! ;;
  esac
  wait "$coordinator"
  [ -n "$attacker" ] && { kill "$attacker" 2>/dev/null || true; wait "$attacker" 2>/dev/null || true; }
  wait "$w1" "$w2" || true
  local rate
  rate=$(grep -o '[0-9,]* samples/s' "$dir/$name.out" | tail -1 | tr -d ', samples/')
  echo "$name: $rate samples/s, coordinator peak memory $(( $(cat "$dir/$name.rss") / 1024 )) MiB, $(grep -c worker_lost "$dir/$name.jsonl" || true) workers lost, hellos told to try later: $(grep -o '[0-9]* refused_hello_try_later' "$dir/$name.err" | cut -d' ' -f1 || true)"
}
for attack in ${ATTACKS:-stall flood}; do
  run "clean-$attack"
  run "$attack"
done
