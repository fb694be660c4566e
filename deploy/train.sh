#!/usr/bin/env bash
# One command from a fresh clone to a trained model: installs what is missing,
# builds dptrain in release mode, and trains on the bundled MNIST.
# Flags are passed to `dptrain train`, e.g. deploy/train.sh --epochs 5 --save model.safetensors
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
swift build -c release --product dptrain 2>&1 | grep -vE '^\[[0-9]+/[0-9]+\]' || true
[ -x .build/release/dptrain ] || { echo "the build failed: see the messages above" >&2; exit 1; }
exec .build/release/dptrain train "$@"
