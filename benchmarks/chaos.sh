#!/usr/bin/env bash
# dptrain under chaos: per seed, a coordinator and 4 workers over tcp loopback
# (batch 64, 8 epochs, --step-deadline 5, checkpoints), then 12 random events a
# second apart drawn from the seed (SIGKILL a worker, SIGSTOP one for 1-4 s,
# start one, and once SIGKILL the coordinator and restart it with --resume).
# Prints one line per seed and a summary; exits 1 if any seed ends with an exit
# other than 0, accuracy under 0.97, an epoch without 60,000 samples, a refused
# checkpoint, or a dptrain process still running 30 s after the end.
# usage: benchmarks/chaos.sh [--seeds 1-8] [--events 12] [--epochs 8] [--timeout 600] [--logs DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! build=$(swift build -c release --product dptrain 2>&1); then echo "$build" >&2; exit 1; fi
exec python3 benchmarks/tools/chaos.py .build/release/dptrain "$@"
