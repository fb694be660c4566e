#!/usr/bin/env bash
# What --prometheus costs the step loop: the same run without the endpoint and with it, scraped
# every 100 ms by curl (on another core), alternating, ROUNDS times; for each, the samples per
# second of the run's CPU time (GNU time's user + system, every process of the run and its HTTP
# threads included: on a shared machine this moves far less with others' load than wall-clock
# samples/s, which is printed beside it) and their ratio. First dptrain train (one process, on core 0: its HTTP thread shares the core with the
# steps), then dptrain launch --workers 2 (on cores 0 and 1, every process's endpoint scraped).
#   [ONLY=train|launch] benchmarks/prometheus-cost.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
bin=${DPTRAIN:-.build/release/dptrain}
[ -n "${DPTRAIN:-}" ] || swift build -c release --product dptrain >/dev/null 2>&1
command -v curl >/dev/null || { echo "prometheus-cost.sh: needs curl" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rate() { grep -m1 -o '[0-9,]* samples/s' "$1" | tr -d ',' | cut -d' ' -f1; }
# Samples over the run's CPU seconds, from the line /usr/bin/time appends.
cpu_rate() { awk -v n="$2" '/^cpu-seconds / {printf "%d", n / ($2 + $3)}' "$1"; }
[ -x /usr/bin/time ] || { echo "prometheus-cost.sh: needs GNU time (apt-get install time)" >&2; exit 1; }

# Runs "$@" with its output in $work/out; with SCRAPE=N, waits for the N endpoints it announces
# and curls each every 100 ms until it ends, counting the scrapes in $work/scrapes. The scraper
# runs on core 1 alone, so that its own processes take nothing from the run's core 0.
run() {
  : > "$work/out"; : > "$work/scrapes"
  /usr/bin/time -f 'cpu-seconds %U %S' "$@" > "$work/out" 2>&1 &
  local pid=$!
  if [ "${SCRAPE:-0}" -gt 0 ]; then
    taskset -c 1 bash -c '
      pid=$1 out=$2 scrapes=$3 expected=$4
      until [ "$(grep -c "prometheus: serving http://127.0.0.1:" "$out")" -ge "$expected" ] || ! kill -0 "$pid" 2>/dev/null; do sleep 0.01; done
      mapfile -t ports < <(grep -o "prometheus: serving http://127.0.0.1:[0-9]*" "$out" | grep -o "[0-9]*$")
      while kill -0 "$pid" 2>/dev/null; do
        for port in "${ports[@]}"; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" && echo >> "$scrapes"; done
        sleep 0.1
      done' scraper "$pid" "$work/out" "$work/scrapes" "$SCRAPE" || true
  fi
  wait "$pid"
}

echo "$(date -u +%FT%TZ) $(nproc) cores; uptime: $(uptime)"
train=(taskset -c 0 "$bin" train --epochs 5 --batch 64)
launch=(taskset -c 0,1 "$bin" launch --workers 2 --epochs 2 --batch 128)
declare -A endpoints=([train]=1 [launch]=3) samples=([train]=300000 [launch]=120000)
for name in ${ONLY:-train launch}; do
  declare -n command=$name
  echo "$name: round  samples/CPU-s without  with (scraped)  ratio  scrapes  wall samples/s without  with  ratio"
  for round in $(seq "$rounds"); do
    # Alternate which goes first, so that a drift in the machine's load favours neither.
    if [ $((round % 2)) -eq 1 ]; then
      SCRAPE=0 run "${command[@]}"; off=$(rate "$work/out"); offcpu=$(cpu_rate "$work/out" "${samples[$name]}")
      SCRAPE=${endpoints[$name]} run "${command[@]}" --prometheus 127.0.0.1:0; on=$(rate "$work/out"); oncpu=$(cpu_rate "$work/out" "${samples[$name]}"); scrapes=$(wc -l < "$work/scrapes")
    else
      SCRAPE=${endpoints[$name]} run "${command[@]}" --prometheus 127.0.0.1:0; on=$(rate "$work/out"); oncpu=$(cpu_rate "$work/out" "${samples[$name]}"); scrapes=$(wc -l < "$work/scrapes")
      SCRAPE=0 run "${command[@]}"; off=$(rate "$work/out"); offcpu=$(cpu_rate "$work/out" "${samples[$name]}")
    fi
    awk -v n="$name" -v r="$round" -v a="$off" -v b="$on" -v ac="$offcpu" -v bc="$oncpu" -v s="$scrapes" \
      'BEGIN {printf "%s: %5d  %22d  %14d  %5.3f  %7d  %22d  %4d  %5.3f\n", n, r, ac, bc, bc / ac, s, a, b, b / a}'
  done
done
echo "uptime after: $(uptime)"
