#!/usr/bin/env bash
# Runs the suite's concurrent parts under ThreadSanitizer and AddressSanitizer: the coordinator's
# parameter team (ParameterTeamTests), a step's chunks on a thread team (ChunkedGradientTests),
# the ZAP handler thread that admits CURVE keys (CurveTests, SecureTrainingTests), the doorbell and
# shared memory (DoorbellTests), and coordinators and workers on threads of one process, over
# sockets and shared memory (DistributedTrainingTests, SimulatedWorkerTests). Each sanitizer builds
# in its own folder (.build/tsan, .build/asan: a first build takes minutes) and fails on any
# report: a data race, a read past a buffer, a use after free.
#
#   deploy/test-sanitizers.sh                  both
#   deploy/test-sanitizers.sh thread           one
#   deploy/test-sanitizers.sh address CurveTests   one, on some tests
set -euo pipefail
cd "$(dirname "$0")/.."
sanitizers=(${1:-thread address})
concurrent=${2:-'ParameterTeamTests|ChunkedGradientTests|CurveTests|SecureTrainingTests|DoorbellTests|DistributedTrainingTests|SimulatedWorkerTests'}
# Reports go to the log and fail the run; libzmq and OpenBLAS are not instrumented, and what they
# do on their own threads is theirs (Tests/sanitizers/*.supp names each suppression and why).
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 suppressions=$PWD/Tests/sanitizers/thread.supp ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=0 halt_on_error=1 ${ASAN_OPTIONS:-}"
export SWIFT_BACKTRACE=enable=no
failed=()
for sanitizer in "${sanitizers[@]}"; do
  began=$SECONDS
  if swift test --disable-swift-testing --sanitize="$sanitizer" --scratch-path ".build/${sanitizer:0:1}san" --filter "$concurrent"; then
    echo "test-sanitizers.sh: $sanitizer: no report ($(( SECONDS - began )) s)"
  else
    echo "test-sanitizers.sh: $sanitizer: FAILED ($(( SECONDS - began )) s)" >&2
    failed+=("$sanitizer")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "test-sanitizers.sh: FAILED: ${failed[*]}" >&2; exit 1; }
