#!/usr/bin/env bash
# Runs each libFuzzer harness (built by Fuzz/build.sh) from its seed corpus, Fuzz/corpus/HARNESS,
# for a bounded time or number of inputs, with AddressSanitizer and leak detection on: a crash,
# a leak, an input slower than 10 s (FUZZ_TIMEOUT) or one that takes over 2 GB fails it. Inputs the fuzzer finds
# go to .build/fuzz/work/HARNESS (the committed seeds are never changed); a failing input is
# saved as .build/fuzz/crashes/HARNESS/crash-... and named, with the command that replays it.
#
#   Fuzz/run.sh --seconds 20                 every harness for 20 s (deploy/test.sh does this)
#   Fuzz/run.sh --runs 10000000 wire-messages  one harness for 10 million inputs
#
# Prints one line per harness: the inputs run, the seconds, the rate, the corpus it grew to.
set -euo pipefail
# A Swift trap goes to libFuzzer, which saves the input; the runtime's own backtracer would catch it first.
export SWIFT_BACKTRACE=enable=no
cd "$(dirname "$0")/.."
# FUZZ_BUILD: where the harnesses are built and run (default .build/fuzz), for a long run beside short ones.
out=${FUZZ_BUILD:-.build/fuzz}
# FUZZ_TIMEOUT: the seconds of wall-clock time past which one input counts as a hang (default 10).
# An input takes milliseconds; on a loaded machine a process at low priority can wait longer.
timeout=${FUZZ_TIMEOUT:-10}
limit=(-max_total_time=20)
case ${1:-} in
  --seconds) limit=(-max_total_time="$2"); shift 2 ;;
  --runs) limit=(-runs="$2"); shift 2 ;;
esac
harnesses=("$@")
[ ${#harnesses[@]} -ne 0 ] || harnesses=($(ls Fuzz/corpus))
Fuzz/build.sh "${harnesses[@]}" >&2
for name in "${harnesses[@]}"; do [ -x "$out/$name" ] || { echo "fuzz/run.sh: no harness $name" >&2; exit 2; }; done

# AddressSanitizer's options. Leaks are looked for after any input that ends with more blocks
# allocated than freed (about 1 in 200 here, first uses of a path: libFuzzer runs LeakSanitizer
# then, up to 1,000 times a run), and each look scans the heap, quarantine included. The default
# 256 MB quarantine of freed blocks made those looks most of a harness's time (idx: 20,690 inputs
# in 60 s, against 77,960 with 32 MB side by side); 32 MB still holds every block freed while one
# input (at most 4 KB, a few MB once inflated) is decoded, so a use after free is still caught.
asan_options=detect_leaks=1:allocator_may_return_null=1:quarantine_size_mb=32
failed=()
for name in "${harnesses[@]}"; do
  work=$out/work/$name crashes=$out/crashes/$name log=$out/$name.log
  mkdir -p "$work" "$crashes"
  began=$(date +%s.%N)
  # The harness's inputs are its own business: it prints nothing unless DPTRAIN_FUZZ_VERBOSE is set.
  if ASAN_OPTIONS=$asan_options LSAN_OPTIONS=suppressions=$PWD/Fuzz/lsan-suppressions.txt:print_suppressions=0 "$out/$name" "${limit[@]}" -timeout="$timeout" -rss_limit_mb=2048 \
       -print_final_stats=1 -artifact_prefix="$crashes/" "$work" "Fuzz/corpus/$name" > "$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$name")
  fi
  seconds=$(awk -v a="$began" -v b="$(date +%s.%N)" 'BEGIN { print b - a }')
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
  corpus=$(ls "$work" | wc -l)
  printf 'fuzz: %-14s %-6s %10s inputs in %6.0f s (%6.0f/s), corpus %s\n' "$name" "$status" "${runs:-0}" "$seconds" \
    "$(awk -v n="${runs:-0}" -v s="$seconds" 'BEGIN { print n / s }')" "$corpus"
  if [ $status = FAILED ]; then
    grep -E "ERROR|SUMMARY|Fatal error|Test unit written" "$log" | head -5 >&2
    echo "fuzz: replay with: $out/$name $crashes/crash-*  (full log: $log)" >&2
  fi
done
if [ ${#failed[@]} -ne 0 ]; then echo "fuzz: FAILED: ${failed[*]}" >&2; exit 1; fi
