#!/usr/bin/env bash
# Installs what dptrain needs to build on Debian or Ubuntu, only what is missing:
# libzmq, OpenBLAS, oneDNN (bf16 matrix products) and zlib with their headers, pkg-config, and a Swift toolchain
# when the distribution packages one. Uses sudo when not run as root.
set -euo pipefail

# libcurl's development files: the --prometheus endpoint's HTTP server (FlyingFox) brings in
# FoundationNetworking, which a release build's --static-swift-stdlib links against libcurl.
packages=(libzmq3-dev libopenblas-dev libdnnl-dev zlib1g-dev pkg-config libcurl4-openssl-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done

if ! command -v swift >/dev/null 2>&1; then
  if apt-cache show swiftlang >/dev/null 2>&1; then
    missing+=(swiftlang)
  else
    echo "dptrain needs Swift 6.0 or later, and this system's packages have none: install it from https://www.swift.org/install/linux/ and run this again." >&2
    exit 1
  fi
fi

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
