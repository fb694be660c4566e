#!/usr/bin/env bash
# A coordinator and two workers as three hosts: each in a network namespace of
# its own, joined by a bridge, talking tcp across separate network stacks. Half
# way through, one worker's cable is cut (its link goes down: no FIN, no RST),
# and the coordinator must notice within --step-deadline and finish with the
# other. Needs root and iproute2; removes everything it made.
# With a release archive (deploy/release.sh), the three hosts run its executables rather than this
# checkout's build. Workers find the coordinator the way cluster recipes make them: one through
# --connect, the other through DPTRAIN_COORDINATOR. With a dptrain that has `keygen`, the run
# uses CURVE keys made for it (the coordinator's, and one pair per worker).
# usage: deploy/across-namespaces.sh [deadline-seconds] [ARCHIVE.tar.gz]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "deploy/across-namespaces.sh needs root, for ip netns" >&2; exit 1; }
command -v ip >/dev/null || { echo "deploy/across-namespaces.sh needs iproute2 (apt-get install iproute2)" >&2; exit 1; }
deadline=${1:-3}
archive=${2:-}
tag=dp$$
dir=$(mktemp -d)
started=()
if [ -n "$archive" ]; then
  tar -xzf "$archive" -C "$dir"
  bin=$(echo "$dir"/dptrain-*-linux-x86_64/bin/dptrain)
else
  swift build -c release --product dptrain >/dev/null 2>&1
  bin=$PWD/.build/release/dptrain
fi
echo "$("$bin" --version) at $bin"
coordinator_keys=()
if "$bin" --help | grep -Eq '^ +keygen( |$)'; then
  for name in coordinator w1 w2; do "$bin" keygen "$name" --dir "$dir/keys" >/dev/null; done
  mkdir "$dir/keys/authorized" && cp "$dir/keys/w1.key" "$dir/keys/w2.key" "$dir/keys/authorized/"
  coordinator_keys=(--key "$dir/keys/coordinator.key_secret" --authorized-keys "$dir/keys/authorized")
  echo "keys: made for the coordinator and both workers"
else
  echo "keys: none (this dptrain has no keygen)"
fi
# A worker's keys, as environment variables (empty without keys).
worker_keys() {
  [ ${#coordinator_keys[@]} -eq 0 ] || echo "DPTRAIN_KEY=$dir/keys/$1.key_secret DPTRAIN_COORDINATOR_KEY=$dir/keys/coordinator.key"
}
cleanup() {
  # ip netns exec and env exec what they run, so these pids are dptrain's own.
  for pid in "${started[@]}"; do kill "$pid" 2>/dev/null || true; done
  for ns in br c w1 w2; do ip netns del "$tag-$ns" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "$tag-br"
ip -n "$tag-br" link add br0 type bridge
ip -n "$tag-br" link set br0 up
address=1
for host in c w1 w2; do
  ip netns add "$tag-$host"
  ip link add "${tag}a" type veth peer name "${tag}b"
  ip link set "${tag}a" netns "$tag-$host"
  ip link set "${tag}b" netns "$tag-br"
  ip -n "$tag-$host" link set "${tag}a" name eth0
  ip -n "$tag-br" link set "${tag}b" name "port$address" master br0
  ip -n "$tag-br" link set "port$address" up
  ip -n "$tag-$host" addr add "10.77.0.$address/24" dev eth0
  ip -n "$tag-$host" link set eth0 up
  ip -n "$tag-$host" link set lo up
  address=$((address + 1))
done

endpoint=tcp://10.77.0.1:5555
# shellcheck disable=SC2046 # worker_keys gives whole NAME=VALUE words
ip netns exec "$tag-w1" env DPTRAIN_COORDINATOR="$endpoint" $(worker_keys w1) "$bin" worker 2>"$dir/w1.err" &
started+=($!)
# shellcheck disable=SC2046
ip netns exec "$tag-w2" env $(worker_keys w2) "$bin" worker --connect "$endpoint" --give-up-after 5 2>"$dir/w2.err" &
started+=($!)
ip netns exec "$tag-c" "$bin" coordinator --bind "tcp://10.77.0.1:5555" --workers 2 --batch 64 --epochs 3 \
  --step-deadline "$deadline" --metrics "$dir/metrics.jsonl" "${coordinator_keys[@]}" >"$dir/c.out" 2>"$dir/c.err" &
coordinator=$!
started+=($coordinator)
# A coordinator that fails ends the script with its reason, rather than leaving it waiting.
running() { kill -0 "$coordinator" 2>/dev/null || { echo "the coordinator ended: $(tail -3 "$dir/c.err")" >&2; exit 1; }; }
until grep -q "epoch 1 " "$dir/c.err" 2>/dev/null; do running; sleep 0.01; done
cut=$(date +%s.%N)
ip -n "$tag-w2" link set eth0 down
until grep -q "lost at step" "$dir/c.err" 2>/dev/null; do running; sleep 0.005; done
noticed=$(date +%s.%N)
wait "$coordinator"
grep -E "joined from|lost at step" "$dir/c.err"
cat "$dir/c.out"
awk -v a="$cut" -v b="$noticed" -v d="$deadline" 'BEGIN {printf "cable cut: declared lost after %.3f s (deadline %s s)\n", b - a, d}'
grep -o '"event":"epoch".*"samples":[0-9]*' "$dir/metrics.jsonl" | grep -o '"epoch":[0-9]*\|"workers":[0-9]*\|"samples":[0-9]*' | paste - - -
