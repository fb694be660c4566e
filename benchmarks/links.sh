#!/usr/bin/env bash
# dptrain across shaped links, against PyTorch DDP, in one run: hosts as network namespaces (a
# coordinator host and two worker hosts; for spread four worker hosts and four server hosts), each
# joined to a bridge by a veth whose two ends are both shaped with `tc qdisc ... tbf rate R` (this
# kernel has tbf, not netem). At each rate R and
# each per-worker batch B it trains 784-128-10 for EPOCHS epochs with one worker (one thread) a
# worker host, `--shared-memory off`, lr 0.05 constant, momentum 0.9, in float32 and with
# `--wire-precision bf16`:
#   star     dptrain coordinator on the coordinator host, a worker on each worker host
#   servers  the same, with `coordinator --parameter-servers 2` and a `dptrain parameter-server`
#            on each worker host (skipped, with one line, while this dptrain has none)
#   ddp      ../shared/anchors/torch_ddp.py, one rank a worker host (env:// rendezvous,
#            MASTER_ADDR the first worker host); no coordinator
#   ceiling  the star's ceiling across these links: `dptrain bench ceiling 2 --bind` on the
#            coordinator host against `bench ceiling 1 --connect` on each worker host, simulated
#            workers that answer each step at once (samples/s over the steps' own time; its bytes
#            a step over the whole run, which ships a few blank samples first)
#   spread   the ceiling with K parameter servers, for each K of SPREAD_SERVERS (default "0 1 4"):
#            8 simulated workers on 4 more worker hosts (2 each, `bench ceiling 2 --connect`), each
#            server on a host of its own, `bench ceiling 8 --bind --parameter-servers K`, unpinned
# and prints, per run, samples/s (the median of the epochs after the first: the first pays for
# start-up), test accuracy, and the busiest link's bytes per step in and out of its host (the
# veths' byte counters read in the switch namespace: for dptrain over the epochs after the first,
# as its start-up ships the data shards, or over the whole run with one epoch; for DDP, whose
# ranks read the data themselves, and the ceilings over the whole run); then the ratios
# servers/star, servers/DDP and star/DDP, and K=4/K=1 for spread. Every figure has the load
# average beside it: the machine may be shared.
#
#   benchmarks/links.sh [RATES] [BATCHES] [EPOCHS]     (default "unlimited 10gbit 1gbit" "128 512" 2)
#
# Needs root (ip netns, tc) and iproute2. Traffic stays inside the namespaces it creates (named
# dpt-PID-*), which it removes at the end, on Ctrl-C and on error, with every process in them.
# For steady figures on a shared machine, run it in a high-priority autogroup:
#   setsid bash -c 'echo -19 > /proc/self/autogroup; nice -n -15 benchmarks/links.sh'
#
# Environment: DPTRAIN (default .build/release/dptrain, built if missing), MNIST (its IDX folder;
# default ../shared/mnist where there is one, else dptrain's bundled MNIST and no DDP), ANCHORS
# (../shared/anchors), TORCH_PYTHON (a python with torch; default ../torch-venv/bin/python, else
# python3), SYSTEMS (default "star servers ddp ceiling spread"), PRECISIONS (default "float32 bf16"),
# ROUNDS (default 1: each round runs every system once, in alternating order, and the medians are
# compared), BURST (tbf burst; default the larger of 128kb and 200 us at the rate), LATENCY (tbf
# latency, default 50ms), PIN (on: worker host 1 on CPU 0, worker host 2 on CPU 1; off),
# RUN_TIMEOUT (seconds a run may take, default 600), KEEP (a folder that keeps every log).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
case "${1:-}" in -h | --help) usage; exit 0 ;; esac
fail() { echo "benchmarks/links.sh: $*" >&2; exit 2; }

rates=${1:-unlimited 10gbit 1gbit}
batches=${2:-128 512}
epochs=${3:-2}
systems=${SYSTEMS:-star servers ddp ceiling spread}
spread_servers=${SPREAD_SERVERS:-0 1 4}
precisions=${PRECISIONS:-float32 bf16}
rounds=${ROUNDS:-1}
latency=${LATENCY:-50ms}
run_timeout=${RUN_TIMEOUT:-600}
mnist=${MNIST:-../shared/mnist}
[ -n "${MNIST:-}" ] || [ -d "$mnist" ] || mnist=""
anchors=${ANCHORS:-../shared/anchors}
hidden=128 lr=0.05

# Every argument is checked before anything is made.
for rate in $rates; do
  [[ $rate =~ ^(unlimited|[0-9]+(\.[0-9]+)?[kmg]?bit)$ ]] || fail "rate '$rate' is not 'unlimited' or a tc rate such as 10gbit, 1gbit, 500mbit"
done
for batch in $batches; do [[ $batch =~ ^[1-9][0-9]*$ ]] || fail "batch '$batch' is not a positive whole number of samples a worker a step"; done
[[ $epochs =~ ^[1-9][0-9]*$ ]] || fail "epochs '$epochs' is not a positive whole number"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || fail "ROUNDS '$rounds' is not a positive whole number"
[[ $run_timeout =~ ^[1-9][0-9]*$ ]] || fail "RUN_TIMEOUT '$run_timeout' is not a positive whole number of seconds"
for system in $systems; do [[ $system =~ ^(star|servers|ddp|ceiling|spread)$ ]] || fail "SYSTEMS names '$system': the systems are star, servers, ddp, ceiling and spread"; done
for k in $spread_servers; do [[ $k =~ ^[0-4]$ ]] || fail "SPREAD_SERVERS names '$k': from 0 to 4 servers, such as \"0 1 4\""; done
for precision in $precisions; do [[ $precision =~ ^(float32|bf16)$ ]] || fail "PRECISIONS names '$precision': the wire precisions are float32 and bf16"; done
[ "$(id -u)" -eq 0 ] || fail "needs root, for ip netns and tc: run it with sudo"
command -v ip >/dev/null && command -v tc >/dev/null || fail "needs iproute2 (ip, tc): apt-get install iproute2"
[ -z "$mnist" ] || [ -d "$mnist" ] || fail "no MNIST at $mnist: set MNIST to the folder of its IDX files"
data=()
[ -z "$mnist" ] || data=(--data "$mnist")

dptrain=${DPTRAIN:-.build/release/dptrain}
if [ ! -x "$dptrain" ]; then swift build -c release --product dptrain >/dev/null; fi
dptrain=$(realpath "$dptrain")
figures=$PWD/benchmarks/tools/links_figures.py

# Which systems this machine can run: the servers need a dptrain that has them, DDP needs torch.
if [[ " $systems " == *" servers "* ]] && ! "$dptrain" parameter-server --help 2>/dev/null | grep -q "USAGE: dptrain parameter-server"; then
  echo "servers: skipped: this dptrain ($("$dptrain" --version)) has no 'parameter-server' command yet"
  systems=${systems//servers/}
fi
if [[ " $systems " == *" ddp "* ]]; then
  torch_python=${TORCH_PYTHON:-../torch-venv/bin/python}
  [ -x "$torch_python" ] || torch_python=python3
  if [ -z "$mnist" ]; then
    echo "ddp: skipped: torch_ddp.py needs the MNIST files (../shared/mnist, or set MNIST)"
    systems=${systems//ddp/}
  elif ! "$torch_python" -c 'import torch' 2>/dev/null; then
    echo "ddp: skipped: $torch_python cannot import torch (set TORCH_PYTHON to a python that has it)"
    systems=${systems//ddp/}
  fi
fi

tag=dpt-$$
dir=${KEEP:-$(mktemp -d)}
mkdir -p "$dir"
started=()
# The hosts: c (10.77.0.1), w1 (10.77.0.2), w2 (10.77.0.3), and for spread w3, w4 and s1..s4, each
# eth0 joined to port1..N of bridge br0 in the switch namespace sw.
hosts=(c w1 w2)
[[ " $systems " != *" spread "* ]] || hosts+=(w3 w4 s1 s2 s3 s4)
export LINKS_HOSTS="${hosts[*]}"
cleanup() {
  trap - EXIT INT TERM
  # Every process in the script's namespaces is one it started (ip netns exec, env and taskset
  # exec what they run): asked to stop, then killed if it has not within 5 s.
  local pids
  pids=$(for ns in "${hosts[@]}" sw; do ip netns pids "$tag-$ns" 2>/dev/null; done; echo "${started[@]}")
  for pid in $pids; do kill "$pid" 2>/dev/null || true; done
  for _ in $(seq 50); do
    local alive=0
    for pid in $pids; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive -eq 0 ] && break
    sleep 0.1
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
  for ns in "${hosts[@]}" sw; do ip netns del "$tag-$ns" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
trap 'echo "benchmarks/links.sh: interrupted; removing its namespaces" >&2; exit 130' INT TERM

ip netns add "$tag-sw"
ip -n "$tag-sw" link add name br0 type bridge
ip -n "$tag-sw" link set br0 up
ip -n "$tag-sw" link set lo up
for i in $(seq ${#hosts[@]}); do
  host=${hosts[$((i - 1))]}
  ip netns add "$tag-$host"
  ip link add name "dpt$$h$i" type veth peer name "dpt$$s$i"
  ip link set "dpt$$h$i" netns "$tag-$host"
  ip link set "dpt$$s$i" netns "$tag-sw"
  ip -n "$tag-$host" link set "dpt$$h$i" name eth0
  ip -n "$tag-sw" link set "dpt$$s$i" name "port$i" master br0
  ip -n "$tag-sw" link set "port$i" up
  ip -n "$tag-$host" addr add "10.77.0.$i/24" dev eth0
  ip -n "$tag-$host" link set eth0 up
  ip -n "$tag-$host" link set lo up
done
address() { local i; for i in $(seq ${#hosts[@]}); do [ "${hosts[$((i - 1))]}" != "$1" ] || echo "10.77.0.$i"; done; }

# Shapes both ends of every veth to $1 (or removes the shaping for 'unlimited').
shape() {
  local rate=$1 burst
  for i in $(seq ${#hosts[@]}); do
    ip netns exec "$tag-${hosts[$((i - 1))]}" tc qdisc del dev eth0 root 2>/dev/null || true
    ip netns exec "$tag-sw" tc qdisc del dev "port$i" root 2>/dev/null || true
  done
  [ "$rate" = unlimited ] && return
  burst=${BURST:-$(python3 "$figures" burst "$rate")}
  for i in $(seq ${#hosts[@]}); do
    ip netns exec "$tag-${hosts[$((i - 1))]}" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency "$latency"
    ip netns exec "$tag-sw" tc qdisc add dev "port$i" root tbf rate "$rate" burst "$burst" latency "$latency"
  done
  echo "links: tbf rate $rate burst $burst latency $latency on both ends of every veth"
}

# Bytes in and out of each host so far, from the switch's ports ("c_in c_out w1_in w1_out ...", in
# the order of hosts: a port's tx is its host's in), then the time they were read.
counters() {
  local files=() i
  for i in $(seq ${#hosts[@]}); do files+=("/sys/class/net/port$i/statistics/tx_bytes" "/sys/class/net/port$i/statistics/rx_bytes"); done
  echo "$(ip netns exec "$tag-sw" cat "${files[@]}" | paste -sd' ') $(date +%s.%N)"
}

# Runs a command on a host in the background, pinned to that host's CPU with PIN=on.
cpu_of() { case $1 in w1) echo 0 ;; w2) echo 1 ;; *) echo "" ;; esac; }
on() {
  local host=$1; shift
  local cpu; cpu=$(cpu_of "$host")
  if [ "${PIN:-on}" = on ] && [ -n "$cpu" ] && [ "$(nproc)" -gt "$cpu" ]; then
    ip netns exec "$tag-$host" taskset -c "$cpu" "$@" &
  else
    ip netns exec "$tag-$host" "$@" &
  fi
  started+=($!)
}

# Waits for a process for at most $2 seconds; 1 if it had to be stopped.
wait_for() {
  local pid=$1 deadline=$((SECONDS + $2))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill "$pid" 2>/dev/null; sleep 2; kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; return 1; fi
    sleep 0.2
  done
  wait "$pid" 2>/dev/null || true
}

# Stops whatever is left of a run (a worker that has not noticed the end, say) and forgets it.
finish_run() {
  local pid
  for pid in "${started[@]}"; do wait_for "$pid" 10 || true; done
  started=()
}

port=5555
# One dptrain run: star or servers, at one batch and wire precision; prints one line of figures.
dptrain_run() {
  local system=$1 batch=$2 precision=$3 name=$4
  local endpoint=tcp://10.77.0.1:$port servers=()
  port=$((port + 10))
  [ "$system" = servers ] && servers=(--parameter-servers 2)
  local before marked coordinator
  before=$(counters)
  on c "$dptrain" coordinator --bind "$endpoint" --insecure --workers 2 --batch $((2 * batch)) --shards 2 \
    --epochs "$epochs" --hidden "$hidden" --lr "$lr" --schedule constant --wire-precision "$precision" \
    --shared-memory off --metrics "$dir/$name.jsonl" "${data[@]}" "${servers[@]}" >"$dir/$name.coordinator.log" 2>&1
  coordinator=$!
  if [ "$system" = servers ]; then
    local k=1
    for host in w1 w2; do
      on "$host" "$dptrain" parameter-server --connect "$endpoint" --bind "tcp://$(address "$host"):$((port - 9 + k))" \
        --insecure --shared-memory off >"$dir/$name.server-$host.log" 2>&1
      k=$((k + 1))
    done
  fi
  for host in w1 w2; do
    on "$host" "$dptrain" worker --connect "$endpoint" --shared-memory off --threads 1 --give-up-after 60 >"$dir/$name.worker-$host.log" 2>&1
  done
  # The bytes are counted from the end of the first epoch: the start-up's data shards are not
  # the step's. With one epoch, from the start.
  marked=$before
  if [ "$epochs" -gt 1 ]; then
    until grep -q '"event":"epoch"' "$dir/$name.jsonl" 2>/dev/null || ! kill -0 "$coordinator" 2>/dev/null; do sleep 0.02; done
    marked=$(counters)
  fi
  local ended=ok
  wait_for "$coordinator" "$run_timeout" || ended="stopped after $run_timeout s"
  local after; after=$(counters)
  finish_run
  if ! grep -q '"event":"done"' "$dir/$name.jsonl" 2>/dev/null; then
    echo "$name: failed ($ended): $(tail -2 "$dir/$name.coordinator.log" | tr '\n' ' ')" >&2
    return 1
  fi
  python3 "$figures" dptrain "$dir/$name.jsonl" "$before" "$marked" "$after"
}

# A ceiling across the links: a bench coordinator on the coordinator host against PER_HOST
# simulated workers on each of WORKER_HOSTS and K parameter servers, server k on host sk (K = 0:
# the star's ceiling); prints one line of figures.
ceiling_run() {
  local per_host=$1 worker_hosts=$2 servers=$3 batch=$4 precision=$5 name=$6
  local endpoint=tcp://10.77.0.1:$port before after coordinator k host
  port=$((port + 10))
  before=$(counters)
  on c "$dptrain" bench ceiling $((per_host * $(wc -w <<<"$worker_hosts"))) --bind "$endpoint" --insecure --parameter-servers "$servers" \
    --hidden "$hidden" --batch "$batch" --steps "${CEILING_STEPS:-200}" --wire-precision "$precision" --shared-memory off \
    --metrics "$dir/$name.jsonl" >"$dir/$name.coordinator.log" 2>&1
  coordinator=$!
  for k in $(seq "$servers"); do
    on "s$k" "$dptrain" parameter-server --connect "$endpoint" --bind "tcp://$(address "s$k"):$((port - 5))" --insecure \
      --shared-memory off >"$dir/$name.server-s$k.log" 2>&1
  done
  for host in $worker_hosts; do
    on "$host" "$dptrain" bench ceiling "$per_host" --connect "$endpoint" >"$dir/$name.workers-$host.log" 2>&1
  done
  local ended=ok
  wait_for "$coordinator" "$run_timeout" || ended="stopped after $run_timeout s"
  after=$(counters)
  finish_run
  if ! grep -q '"event":"bench"' "$dir/$name.jsonl" 2>/dev/null; then
    echo "$name: failed ($ended): $(tail -2 "$dir/$name.coordinator.log" | tr '\n' ' ')" >&2
    return 1
  fi
  python3 "$figures" ceiling "$dir/$name.jsonl" "$before" "$after"
}

# One PyTorch DDP run, two ranks on the worker hosts; prints one line of figures.
ddp_run() {
  local batch=$1 name=$2
  local rank=0 ranks=() before after
  before=$(counters)
  for host in w1 w2; do
    on "$host" env RANK=$rank WORLD_SIZE=2 MASTER_ADDR=10.77.0.2 MASTER_PORT=$port GLOO_SOCKET_IFNAME=eth0 \
      OMP_NUM_THREADS=1 "$torch_python" "$anchors/torch_ddp.py" "$mnist" 2 "$epochs" "$batch" "$lr" "$hidden" relu \
      >"$dir/$name.rank$rank.jsonl" 2>"$dir/$name.rank$rank.log"
    ranks+=($!)
    rank=$((rank + 1))
  done
  port=$((port + 10))
  local ended=ok
  wait_for "${ranks[0]}" "$run_timeout" || ended="stopped after $run_timeout s"
  after=$(counters)
  finish_run
  if ! grep -q '"epoch"' "$dir/$name.rank0.jsonl" 2>/dev/null; then
    echo "$name: failed ($ended): $(tail -2 "$dir/$name.rank0.log" | tr '\n' ' ')" >&2
    return 1
  fi
  python3 "$figures" ddp "$dir/$name.rank0.jsonl" "$before" "$after" $((60000 / 2 / batch * epochs))
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); $("$dptrain" --version) at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "784-$hidden-10 relu, momentum 0.9, lr $lr constant, $epochs epochs, one worker (1 thread) on each of 2 worker hosts, coordinator on a third; --shared-memory off"
echo "samples/s: median of epochs 2..$epochs; link KB/step: the busiest host link's bytes a step in/out of its host; load: uptime's 1-minute load average after the run"
[ "$epochs" -gt 1 ] || echo "with one epoch, dptrain's bytes a step include the start-up's data shards (two epochs or more leave them out)"
echo "uptime:$(uptime)"
results=$dir/results.tsv
: >"$results"
printf "%-10s %6s %-18s %12s %9s %-12s %12s %12s %6s\n" link batch system samples/s accuracy busiest in-KB/step out-KB/step load
for rate in $rates; do
  shape "$rate"
  for batch in $batches; do
    kinds=()
    for system in $systems; do
      case $system in
        ddp) kinds+=(ddp) ;;
        spread) for precision in $precisions; do for k in $spread_servers; do kinds+=("spread-k$k-$precision"); done; done ;;
        *) for precision in $precisions; do kinds+=("$system-$precision"); done ;;
      esac
    done
    for round in $(seq "$rounds"); do
      # Alternate the order from round to round, so that drift in the machine's load falls on all alike.
      order=("${kinds[@]}")
      if [ $((round % 2)) -eq 0 ]; then order=(); for ((k = ${#kinds[@]} - 1; k >= 0; k--)); do order+=("${kinds[$k]}"); done; fi
      for kind in "${order[@]}"; do
        name=$rate-$batch-$kind-$round
        # In the background, so that Ctrl-C or a TERM reaches the trap at once rather than after the run.
        case $kind in
          ddp) ddp_run "$batch" "$name" >"$dir/figures" & ;;
          ceiling-*) ceiling_run 1 "w1 w2" 0 "$batch" "${kind#*-}" "$name" >"$dir/figures" & ;;
          # 8 simulated workers, 2 a host, unpinned: four hosts share the two CPUs.
          spread-*) rest=${kind#spread-k}; PIN=off ceiling_run 2 "w1 w2 w3 w4" "${rest%%-*}" "$batch" "${rest#*-}" "$name" >"$dir/figures" & ;;
          *) dptrain_run "${kind%-*}" "$batch" "${kind#*-}" "$name" >"$dir/figures" & ;;
        esac
        started=($!)
        status=0
        wait "${started[0]}" || status=$?
        started=()
        [ $status -eq 0 ] || continue
        line=$(cat "$dir/figures")
        load=$(cut -d' ' -f1 /proc/loadavg)
        printf "%s\t%s\t%s\t%s\t%s\t%s\n" "$rate" "$batch" "$kind" "$round" "$line" "$load" >>"$results"
        python3 "$figures" row "$rate" "$batch" "$kind" "$line" "$load"
      done
    done
  done
done
echo "uptime:$(uptime)"
python3 "$figures" ratios "$results"
[ -z "${KEEP:-}" ] || echo "logs and metrics: $dir"
