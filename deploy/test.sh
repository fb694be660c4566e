#!/usr/bin/env bash
# Installs what is missing (the build's libraries, Chromium and TensorBoard's Python package for
# the report and event-file tests), then runs every dptrain test: the Swift suite, the commands of
# the docs (Tests/tools/check_docs.py), every fuzz harness for 20 s (Fuzz/run.sh), the concurrent tests under
# ThreadSanitizer and AddressSanitizer (deploy/test-sanitizers.sh), then the deployment
# recipes against real tools: the release archive with the Swift toolchain hidden, the systemd
# units (systemd-analyze), the Kubernetes manifests (kubernetes-validate), the container image
# (podman, buildah) and the Slurm job (slurmctld, slurmd, munge). Each installs what it needs and
# stops what it starts. With arguments (such as --filter X), only the Swift tests run, with them.
# A failure does not hide the rest: every part runs, the failed ones are named at the end, and
# the exit status is non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/install-test-deps.sh
failed=()
swift test --disable-swift-testing "$@" || failed+=("swift test")
if [ $# -ne 0 ]; then [ ${#failed[@]} -eq 0 ]; exit; fi

timed() {
  local began=$SECONDS
  "$@" || failed+=("$1")
  echo "test.sh: $1 took $(( SECONDS - began )) s"
}
finish() {
  if [ ${#failed[@]} -ne 0 ]; then
    echo "test.sh: FAILED: $(printf '%s, ' "${failed[@]}" | sed 's/, $//')" >&2
    exit 1
  fi
  echo "test.sh: every test passed"
  exit 0
}
# Every ```sh block of README.md and docs/*.md, run as a reader would paste it, with the
# dptrain, coordinator and worker the Swift tests have just built.
timed python3 Tests/tools/check_docs.py
# Every decoder a peer or a file reaches, fuzzed for 20 s a harness with AddressSanitizer (Fuzz/).
timed Fuzz/run.sh --seconds 20
# The concurrent tests under ThreadSanitizer and AddressSanitizer (two more builds).
timed deploy/test-sanitizers.sh
timed deploy/kubernetes/test-kubernetes.sh
if [ "$(id -u)" -ne 0 ]; then
  echo "test.sh: skipping the release, systemd, container and Slurm tests: they need root (mount namespaces, daemons); run deploy/test.sh as root"
  finish
fi
began=$SECONDS
if ! release=$(deploy/release.sh); then
  failed+=(deploy/release.sh)
  echo "test.sh: deploy/release.sh failed: skipping the tests of its archive" >&2
  finish
fi
archive=$(tail -1 <<<"$release" | awk '{print $2}')
echo "test.sh: deploy/release.sh took $(( SECONDS - began )) s: $archive"
timed deploy/test-release.sh "$archive"
timed deploy/systemd/test-systemd.sh "$archive"
timed deploy/container/test-container.sh "$archive"
timed deploy/slurm/test-slurm.sh "$archive"
finish
