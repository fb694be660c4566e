#!/usr/bin/env bash
# Builds deploy/container/Containerfile from a release archive with podman, then runs the image's
# dptrain: `dptrain train --epochs 1` as its unprivileged user, a coordinator with two workers, and
# a coordinator with a parameter server and a worker.
#
# On this VM (Debian 12, cgroups v1/v2 hybrid, no registry reachable) three things differ from a
# workstation, and the script works around each: the base image is a Debian 12 minbase made with
# debootstrap from the apt mirror and imported as localhost/dptrain-base:bookworm (set
# DPTRAIN_CONTAINER_BASE to use another, such as docker.io/library/debian:bookworm-slim); RUN
# steps use --isolation=chroot, because crun refuses to create containers here ("cgroups in
# hybrid mode not supported"); and the image is run with `buildah run --isolation chroot` for the
# same reason. `podman run` is tried too, and its outcome reported, not required.
#
# usage: deploy/container/test-container.sh [ARCHIVE.tar.gz]   (default: builds one). Needs root.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
say() { echo "test-container.sh: $*"; }
fail() { echo "test-container.sh: FAILED: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root"

missing=()
for tool in podman:podman buildah:buildah debootstrap:debootstrap; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

archive=${1:-}
[ -n "$archive" ] || archive=$("$repo/deploy/release.sh" | tail -1 | awk '{print $2}')
archive=$(realpath "$archive")
name=$(basename "$archive" .tar.gz)
version=${name#dptrain-}; version=${version%-linux-x86_64}
image=localhost/dptrain-test:$version
work=$(mktemp -d)
container=""
cleanup() {
  [ -z "$container" ] || buildah rm "$container" >/dev/null 2>&1 || true
  podman rmi -f "$image" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

base=${DPTRAIN_CONTAINER_BASE:-localhost/dptrain-base:bookworm}
if [ -z "${DPTRAIN_CONTAINER_BASE:-}" ] && ! podman image exists "$base"; then
  say "making $base with debootstrap (Debian 12 minbase)"
  debootstrap --variant=minbase bookworm "$work/root" http://deb.debian.org/debian > "$work/debootstrap.log" 2>&1 \
    || fail "debootstrap: $(tail -3 "$work/debootstrap.log")"
  tar -C "$work/root" -c . | podman import --quiet - "$base" >/dev/null
  rm -rf "$work/root"
fi

# The build context: the archive alone.
mkdir "$work/context"
cp "$archive" "$work/context/"
podman build --isolation=chroot --quiet -f "$here/Containerfile" -t "$image" \
  --build-arg BASE="$base" --build-arg ARCHIVE="$(basename "$archive")" "$work/context" > "$work/build.log" 2>&1 \
  || fail "podman build: $(tail -5 "$work/build.log")"
say "ok: podman build made $image from $(basename "$archive") on $base"

container=$(buildah from "$image")
in_image() { buildah run --isolation chroot --user 65532:65532 "$container" -- "$@"; }
# The image's dptrain is the archive's: the same --version line, commit and all.
tar -xzf "$archive" -C "$work" "$name/bin"
[ "$(in_image dptrain --version)" = "$("$work/$name/bin/dptrain" --version)" ] \
  || fail "dptrain --version in the image: $(in_image dptrain --version), the archive's: $("$work/$name/bin/dptrain" --version)"
in_image timeout 300 dptrain train --epochs 1 > "$work/train.out" 2>&1 || fail "dptrain train in the image (exit $?; 124: the 300 s limit): $(tail -3 "$work/train.out")"
grep -q '^done: test accuracy 0\.9' "$work/train.out" || fail "dptrain train in the image: $(tail -2 "$work/train.out")"
say "ok: in the image, as user 65532: $(grep '^done:' "$work/train.out")"
# Every process in the image under a time limit, so that a hang fails with the coordinator's last
# lines in seconds rather than stalling the suite; a failure prints what the coordinator said.
in_image sh -c 'timeout 120 coordinator --bind ipc:///tmp/c.sock --workers 2 --epochs 1 > /tmp/c.out 2>&1 & c=$!
  timeout 120 worker --connect ipc:///tmp/c.sock 2>/dev/null & DPTRAIN_COORDINATOR=ipc:///tmp/c.sock timeout 120 worker 2>/dev/null
  if wait $c; then grep "^done:" /tmp/c.out; else s=$?; echo "coordinator exit $s (124: the 120 s limit):"; tail -5 /tmp/c.out; exit 1; fi' \
  > "$work/distributed.out" 2>&1 || fail "coordinator and workers in the image: $(tail -6 "$work/distributed.out")"
say "ok: in the image, a coordinator and two workers: $(cat "$work/distributed.out")"
# The image's parameter-server (on PATH, a link to dptrain): a coordinator that waits for one, and
# a worker that sends it its gradients and takes the weights from it.
in_image sh -c 'timeout 120 coordinator --bind ipc:///tmp/p.sock --workers 1 --parameter-servers 1 --epochs 1 --batch 512 > /tmp/p.out 2>&1 & c=$!
  timeout 120 parameter-server --connect ipc:///tmp/p.sock --bind ipc:///tmp/ps.sock > /tmp/ps.out 2>&1 & s=$!
  timeout 120 worker --connect ipc:///tmp/p.sock 2>/dev/null
  if wait $c && wait $s; then grep "^done:" /tmp/p.out; grep -m1 -o "parameter server 1 of 1 .*" /tmp/p.out
  else echo "coordinator or parameter-server failed (124: the 120 s limit):"; tail -4 /tmp/p.out /tmp/ps.out; exit 1; fi' \
  > "$work/servers.out" 2>&1 || fail "a coordinator, parameter-server and worker in the image: $(tail -10 "$work/servers.out")"
grep -q "holds parameters" "$work/servers.out" || fail "the coordinator in the image names no parameter server: $(cat "$work/servers.out")"
say "ok: in the image, a coordinator, parameter-server and worker: $(tr '\n' ' ' < "$work/servers.out")"

# The keys as a Kubernetes secret volume with `defaultMode: 0440` and `fsGroup: 65532` mounts them
# (deploy/kubernetes): each file root-owned, group 65532, mode 0440, in a timestamped folder that
# `..data` links to, and the names the pod reads are links through `..data`. The image's user must
# accept them as they are, and train secured over tcp with them.
secret() {   # secret FOLDER FILE...: FILEs laid out in FOLDER as a secret volume lays them out
  local folder=$1; shift
  mkdir -p "$folder/..2026_12_07_00_00_00.000000001"
  for file in "$@"; do
    cp "$file" "$folder/..2026_12_07_00_00_00.000000001/"
    ln -s "..data/$(basename "$file")" "$folder/$(basename "$file")"
  done
  ln -s ..2026_12_07_00_00_00.000000001 "$folder/..data"
  chown -R 0:65532 "$folder/..2026_12_07_00_00_00.000000001"
  chmod 0440 "$folder/..2026_12_07_00_00_00.000000001"/*
  chmod 0755 "$folder" "$folder/..2026_12_07_00_00_00.000000001"
}
"$work/$name/bin/dptrain" keygen coordinator --dir "$work/made" > /dev/null
"$work/$name/bin/dptrain" keygen worker --dir "$work/made" > /dev/null
secret "$work/coordinator-keys" "$work/made/coordinator.key_secret"
secret "$work/authorized-keys" "$work/made/worker.key"
secret "$work/worker-keys" "$work/made/worker.key_secret" "$work/made/coordinator.key"
in_secured() {
  buildah run --isolation chroot --user 65532:65532 \
    -v "$work/coordinator-keys:/etc/dptrain/coordinator-keys:ro" -v "$work/authorized-keys:/etc/dptrain/authorized-keys:ro" \
    -v "$work/worker-keys:/etc/dptrain/keys:ro" "$container" -- "$@"
}
port=$((20000 + RANDOM % 20000))   # the chroot shares this machine's network
in_secured env PORT=$port sh -c 'timeout 120 coordinator --bind tcp://127.0.0.1:$PORT --workers 1 --epochs 1 --batch 512 \
    --key /etc/dptrain/coordinator-keys/coordinator.key_secret --authorized-keys /etc/dptrain/authorized-keys > /tmp/s.out 2>&1 & c=$!
  DPTRAIN_COORDINATOR=tcp://127.0.0.1:$PORT DPTRAIN_KEY=/etc/dptrain/keys/worker.key_secret \
    DPTRAIN_COORDINATOR_KEY=/etc/dptrain/keys/coordinator.key timeout 120 worker > /tmp/w.out 2>&1 & w=$!
  if wait $c && wait $w; then grep "^done:" /tmp/s.out; else echo "coordinator or worker failed:"; tail -3 /tmp/s.out /tmp/w.out; exit 1; fi' \
  > "$work/secured.out" 2>&1 || fail "a secured run with keys mounted as Kubernetes mounts them: $(tail -8 "$work/secured.out")"
say "ok: in the image, keys root-owned 0440 behind ..data as a secret volume mounts them: $(cat "$work/secured.out")"

if podman run --rm "$image" dptrain --version > "$work/run.out" 2>&1; then
  say "podman run works here too: $(cat "$work/run.out")"
else
  say "podman run does not work on this machine ($(tail -1 "$work/run.out")); the image was run with buildah run --isolation chroot instead"
fi
say "passed"
