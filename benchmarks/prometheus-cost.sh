#!/usr/bin/env bash
# What --prometheus costs the step loop: the same run without the endpoint and with it, scraped
# every 100 ms by curl (on another core), alternating, ROUNDS times; samples/s of each and their
# ratio. First dptrain train (one process, on core 0: its HTTP thread shares the core with the
# steps), then dptrain launch --workers 2 (on cores 0 and 1, every process's endpoint scraped).
#   benchmarks/prometheus-cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
command -v curl >/dev/null || { echo "prometheus-cost.sh: needs curl" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rate() { grep -m1 -o '[0-9,]* samples/s' "$1" | tr -d ',' | cut -d' ' -f1; }

# Runs "$@" with its output in $work/out; with SCRAPE=1, curls every endpoint it announces every
# 100 ms until it ends, and counts the scrapes in $work/scrapes.
run() {
  : > "$work/out"; : > "$work/scrapes"
  "$@" > "$work/out" 2>&1 &
  local pid=$! ports=()
  if [ "${SCRAPE:-0}" = 1 ]; then
    while kill -0 "$pid" 2>/dev/null; do
      mapfile -t ports < <(grep -o 'prometheus: serving http://127.0.0.1:[0-9]*' "$work/out" | grep -o '[0-9]*$')
      for port in "${ports[@]}"; do
        taskset -c 1 curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && echo >> "$work/scrapes" || true
      done
      sleep 0.1
    done
  fi
  wait "$pid"
}

echo "$(date -u +%FT%TZ) $(nproc) cores; uptime: $(uptime)"
train=(taskset -c 0 "$bin" train --epochs 5 --batch 64)
launch=(taskset -c 0,1 "$bin" launch --workers 2 --epochs 2 --batch 128)
for name in train launch; do
  declare -n command=$name
  echo "$name: round  without  with (scraped)  scrapes  ratio"
  for round in $(seq "$rounds"); do
    # Alternate which goes first, so that a drift in the machine's load favours neither.
    if [ $((round % 2)) -eq 1 ]; then
      SCRAPE=0 run "${command[@]}"; off=$(rate "$work/out")
      SCRAPE=1 run "${command[@]}" --prometheus 127.0.0.1:0; on=$(rate "$work/out"); scrapes=$(wc -l < "$work/scrapes")
    else
      SCRAPE=1 run "${command[@]}" --prometheus 127.0.0.1:0; on=$(rate "$work/out"); scrapes=$(wc -l < "$work/scrapes")
      SCRAPE=0 run "${command[@]}"; off=$(rate "$work/out")
    fi
    awk -v n="$name" -v r="$round" -v a="$off" -v b="$on" -v s="$scrapes" \
      'BEGIN {printf "%s: %5d  %7d  %14d  %7d  %5.3f\n", n, r, a, b, s, b / a}'
  done
done
echo "uptime after: $(uptime)"
