#!/usr/bin/env bash
# The release check of dptrain's decoders: each libFuzzer harness (Fuzz/Harnesses) for 10 million
# inputs from its seed corpus, one after another on one core, with AddressSanitizer and leak
# detection; prints each harness's inputs, seconds and rate (Fuzz/run.sh's line), the machine's
# load beside them, and fails naming any harness that crashed, leaked, hung or ran out of memory.
# Built and run under .build/fuzz-release, apart from the short runs of deploy/test.sh.
#
#   benchmarks/fuzz.sh                      every harness, 10 million inputs each
#   benchmarks/fuzz.sh 1000000 idx          one harness, a million
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-10000000}
[ $# -eq 0 ] || shift
export FUZZ_BUILD=${FUZZ_BUILD:-.build/fuzz-release}
# A hang is an input that takes a minute: on a shared machine this low-priority run can wait
# seconds for a core (a 2,908-byte doorbell stream that replays in 0.06 s was once called one at 10).
export FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-60}
echo "fuzz.sh: $(date -u +%FT%TZ) $(uname -m), $(nproc) cores, uptime:$(uptime | sed 's/.*load/ load/')"
status=0
taskset -c 0 Fuzz/run.sh --runs "$runs" "$@" || status=$?
echo "fuzz.sh: done $(date -u +%FT%TZ), uptime:$(uptime | sed 's/.*load/ load/')"
exit $status
