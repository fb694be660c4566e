#!/usr/bin/env bash
# Installs what is missing, then runs every dptrain test.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
# The wire-capture test (WireCaptureTests) reads a secured run's packets with tcpdump.
if ! command -v tcpdump >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq tcpdump >/dev/null
fi
exec swift test --disable-swift-testing "$@"
