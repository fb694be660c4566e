#!/usr/bin/env bash
# Installs what is missing (the build's libraries, Chromium and TensorBoard's
# Python package for the report and event-file tests), then runs every dptrain test.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/install-test-deps.sh
exec swift test --disable-swift-testing "$@"
