#!/usr/bin/env bash
# One command from a fresh clone to a trained model: installs what is missing,
# builds dptrain in release mode, and trains on the bundled MNIST with a
# coordinator and worker processes on this machine: two workers unless --workers says otherwise.
# --batch is the global batch (default 128): any number of workers trains the model
# `dptrain train` trains with the same flags, to the bit.
# Flags are passed to `dptrain launch`, e.g. deploy/train.sh --workers 4 --batch 512 --epochs 5 --save model.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
# The build's progress lines are filtered out; its status is kept (pipefail), so that a failed
# build stops here rather than training with the binary an earlier build left.
if ! swift build -c release --product dptrain 2>&1 | { grep -vE '^\[[0-9]+/[0-9]+\]|prohibited flag' || true; }; then
  echo "train.sh: the build failed (see the messages above); nothing was trained" >&2
  exit 1
fi
defaults=()
case " $* " in *" --workers"*) ;; *) defaults+=(--workers 2) ;; esac
exec .build/release/dptrain launch "${defaults[@]}" "$@"
