#!/usr/bin/env bash
# Installs what is missing, then runs every dptrain test.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
deploy/install-test-deps.sh
exec swift test --disable-swift-testing "$@"
