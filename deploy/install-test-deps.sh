#!/usr/bin/env bash
# Installs what the tests need beyond the build: Chromium, which renders
# dptrain report's page to a PNG, and the tensorboard Python package, whose
# own loader reads dptrain's event files back. Only what is missing; sudo when
# not root.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! python3 -c "import tensorboard" >/dev/null 2>&1; then
  echo "installing the tensorboard Python package"
  # Debian's own Python refuses pip installs unless told that this is meant.
  python3 -m pip install --quiet tensorboard 2>/dev/null \
    || $sudo python3 -m pip install --quiet --break-system-packages tensorboard
fi
