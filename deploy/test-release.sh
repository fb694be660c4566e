#!/usr/bin/env bash
# Runs the release archive where the Swift toolchain cannot be seen: in a mount namespace with an
# empty tmpfs over the toolchain's folder, from a folder outside the repository. Checks that every
# library the executables load is glibc's or the archive's own, that --version names the commit,
# that `dptrain train --epochs 1` trains and saves a model that `dptrain evaluate` reads, and that
# a coordinator with two workers (one told --connect, one DPTRAIN_COORDINATOR) trains an epoch, that
# the archive's parameter-server serves a coordinator run with --parameter-servers 1, and that
# every command of the archive's README runs as pasted from the unpacked folder.
#
# usage: deploy/test-release.sh [ARCHIVE]   (default: builds one with deploy/release.sh)
# Needs root, for the mount namespace.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

if [ -z "${DPTRAIN_TOOLCHAIN_HIDDEN:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "test-release.sh: needs root, to hide the Swift toolchain in a mount namespace" >&2; exit 1; }
  archive=${1:-}
  if [ -z "$archive" ]; then
    archive=$("$here/deploy/release.sh" | tail -1 | awk '{print $2}')
  fi
  archive=$(realpath "$archive")
  swift=$(command -v swift || true)
  [ -n "$swift" ] || { echo "test-release.sh: no swift on PATH, so nothing to hide; run the archive's bin/dptrain by hand" >&2; exit 1; }
  toolchain=$(dirname "$(dirname "$(realpath "$swift")")")
  if [ "$toolchain" = /usr ]; then
    echo "test-release.sh: this Swift lives in /usr, which cannot be hidden; test the archive in a debootstrap'd root instead" >&2
    exit 1
  fi
  expected_commit=$(git -C "$here" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
  # A private mount namespace: the tmpfs is seen by this script's processes alone, and goes with them.
  exec unshare --mount --propagation private env DPTRAIN_TOOLCHAIN_HIDDEN="$toolchain" \
    EXPECTED_COMMIT="$expected_commit" "$0" "$archive"
fi

archive=$1
mount -t tmpfs -o size=1m,mode=0755 dptrain-hides-swift "$DPTRAIN_TOOLCHAIN_HIDDEN"
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
unset DPTRAIN_DATA DPTRAIN_COORDINATOR
work=$(mktemp -d)
cleanup() {
  for pid in $(jobs -p); do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fail() { echo "test-release.sh: FAILED: $*" >&2; exit 1; }
pass() { echo "test-release.sh: ok: $*"; }

command -v swift >/dev/null && fail "swift is still on PATH"
[ -z "$(ls -A "$DPTRAIN_TOOLCHAIN_HIDDEN")" ] || fail "$DPTRAIN_TOOLCHAIN_HIDDEN is not hidden"
pass "the toolchain at $DPTRAIN_TOOLCHAIN_HIDDEN is hidden; swift is not on PATH"

tar -xzf "$archive"
root=$(echo "$work"/dptrain-*-linux-x86_64)
bin=$root/bin
for program in dptrain coordinator worker parameter-server; do
  [ -x "$bin/$program" ] || fail "the archive lacks bin/$program"
done

# Every library resolves, to the archive's lib/ or to glibc's own.
ldd "$bin/dptrain" > ldd.txt
grep -q "not found" ldd.txt && fail "unresolved libraries: $(grep 'not found' ldd.txt | tr '\n' ' ')"
outside=$(awk '/=> \//{print $3}' ldd.txt | xargs realpath -s | grep -v "^$root/lib/" | grep -Ev '/(libc|libm|libdl|libpthread|librt|libresolv|libutil)\.so' || true)
[ -z "$outside" ] || fail "libraries loaded from outside the archive: $outside"
pass "$(grep -c "$root/bin/../lib/" ldd.txt) libraries from the archive's lib/, the rest glibc's"

for program in dptrain coordinator worker parameter-server; do
  line=$("$bin/$program" --version)
  [[ $line =~ ^$program\ [0-9]+\.[0-9]+\.[0-9]+\ \(protocol\ [0-9]+,\ commit\ $EXPECTED_COMMIT(-dirty)?\)$ ]] || fail "$program --version says '$line', expected commit $EXPECTED_COMMIT"
done
pass "--version: $("$bin/dptrain" --version)"

"$bin/dptrain" train --epochs 1 --save model.safetensors > train.out 2> train.err || fail "dptrain train: $(tail -3 train.err)"
accuracy=$(awk '/^done:/{print $4}' train.out)
awk -v a="$accuracy" 'BEGIN{exit !(a >= 0.9)}' || fail "dptrain train --epochs 1 reached only '$accuracy'"
"$bin/dptrain" evaluate --model model.safetensors > evaluate.out || fail "dptrain evaluate"
grep -q "test accuracy $accuracy" evaluate.out || fail "evaluate disagrees with train: $(head -2 evaluate.out)"
pass "dptrain train --epochs 1: test accuracy $accuracy; evaluate reads the model back"

endpoint=ipc://$work/coordinator.sock
"$bin/coordinator" --bind "$endpoint" --workers 2 --epochs 1 > coordinator.out 2> coordinator.err &
coordinator=$!
"$bin/worker" --connect "$endpoint" 2> worker1.err &
worker1=$!
DPTRAIN_COORDINATOR=$endpoint "$bin/worker" 2> worker2.err &
worker2=$!
status=0; wait $coordinator || status=$?
[ $status -eq 0 ] || fail "coordinator exited $status: $(tail -3 coordinator.err)"
wait $worker1 || fail "worker 1 (--connect): $(tail -3 worker1.err)"
wait $worker2 || fail "worker 2 (DPTRAIN_COORDINATOR): $(tail -3 worker2.err)"
pass "coordinator and two workers: $(grep '^done:' coordinator.out)"

# The archive's parameter-server (a link to dptrain, which must act on that name): a coordinator
# that waits for one, and a worker that sends it its gradients and takes the weights from it.
endpoint=ipc://$work/servers.sock
"$bin/coordinator" --bind "$endpoint" --workers 1 --parameter-servers 1 --epochs 1 --batch 512 > servers.out 2> servers.err &
coordinator=$!
"$bin/parameter-server" --connect "$endpoint" --bind "ipc://$work/server.sock" 2> server.err &
server=$!
"$bin/worker" --connect "$endpoint" 2> worker3.err &
worker3=$!
status=0; wait $coordinator || status=$?
[ $status -eq 0 ] || fail "coordinator --parameter-servers 1 exited $status: $(tail -3 servers.err)"
wait $server || fail "parameter-server: $(tail -3 server.err)"
wait $worker3 || fail "worker of the run with a parameter server: $(tail -3 worker3.err)"
grep -q "parameter server 1 of 1 .*holds parameters 0\.\." servers.err || fail "the coordinator names no parameter server: $(grep -m3 -i 'parameter server' servers.err)"
pass "coordinator, parameter-server and a worker: $(grep '^done:' servers.out)"

# The archive's README, pasted from the unpacked folder: every ```sh block runs as written.
python3 "$here/Tests/tools/check_docs.py" --archive "$archive" || fail "a command of the archive's README does not run as pasted (above)"
pass "every command of the archive's README runs as pasted"
echo "test-release.sh: passed"
