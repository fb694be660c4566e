#!/usr/bin/env bash
# Installs what is missing, then runs every dptrain test.
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
# The wire-capture test (WireCaptureTests) reads a secured run's packets with tcpdump;
# SecurityProcessTests checks that pyzmq (Debian's python3-zmq) reads dptrain's certificates.
missing=()
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
/usr/bin/python3 -c "import zmq.auth" 2>/dev/null || missing+=(python3-zmq)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
exec swift test --disable-swift-testing "$@"
