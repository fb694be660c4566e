#!/usr/bin/env bash
# A coordinator and two workers as three hosts: each in a network namespace of
# its own, joined by a bridge, talking tcp across separate network stacks. Half
# way through, one worker's cable is cut (its link goes down: no FIN, no RST),
# and the coordinator must notice within --step-deadline and finish with the
# other. Every host has its own CURVE key (dptrain keygen), as across real
# machines: the coordinator admits the two workers' public keys and nothing
# else. Needs root and iproute2; removes everything it made.
# With a release archive (deploy/release.sh), the three hosts run its executables rather than this
# checkout's build. Workers find the coordinator and their keys the way cluster recipes give them:
# one through --connect and --key flags, the other through DPTRAIN_COORDINATOR, DPTRAIN_KEY and
# DPTRAIN_COORDINATOR_KEY.
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
# One key pair per host; the workers' public certificates go to the coordinator's authorized folder.
for host in c w1 w2; do "$bin" keygen "$host" --dir "$dir/keys" >/dev/null; done
mkdir "$dir/authorized" && cp "$dir/keys/w1.key" "$dir/keys/w2.key" "$dir/authorized/"
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
ip netns exec "$tag-w1" env DPTRAIN_COORDINATOR="$endpoint" DPTRAIN_KEY="$dir/keys/w1.key_secret" \
  DPTRAIN_COORDINATOR_KEY="$dir/keys/c.key" "$bin" worker 2>"$dir/w1.err" &
started+=($!)
ip netns exec "$tag-w2" "$bin" worker --connect "$endpoint" --key "$dir/keys/w2.key_secret" --coordinator-key "$dir/keys/c.key" \
  --give-up-after 5 2>"$dir/w2.err" &
started+=($!)
ip netns exec "$tag-c" "$bin" coordinator --bind "tcp://10.77.0.1:5555" --workers 2 --batch 128 --epochs 3 \
  --key "$dir/keys/c.key_secret" --authorized-keys "$dir/authorized" \
  --step-deadline "$deadline" --metrics "$dir/metrics.jsonl" >"$dir/c.out" 2>"$dir/c.err" &
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
grep -E "CURVE|joined from|lost at step" "$dir/c.err"
cat "$dir/c.out"
awk -v a="$cut" -v b="$noticed" -v d="$deadline" 'BEGIN {printf "cable cut: declared lost after %.3f s (deadline %s s)\n", b - a, d}'
grep -o '"event":"epoch".*"samples":[0-9]*' "$dir/metrics.jsonl" | grep -o '"epoch":[0-9]*\|"workers":[0-9]*\|"samples":[0-9]*' | paste - - -
