#!/usr/bin/env bash
# What the tests need beyond the build: GNU time, which measures a process's peak
# memory; Python's safetensors and NumPy, which re-save a model as other tools do and
# write data sets as NumPy users do; scikit-learn, whose bundled real data sets (digits,
# breast cancer: inside the package, no download) the tests train on;
# tcpdump, which watches a secured run's traffic; pyzmq, another ZeroMQ tool that
# must read dptrain's key files; the tensorboard Python package, whose own loader
# reads dptrain's event files back; Chromium, which renders dptrain report's page
# to a PNG; Debian's prometheus and promtool, which scrape and lint the --prometheus endpoint
# (its tests run their own Prometheus on loopback); iproute2's ip and tc, which make
# benchmarks/links.sh's hosts. Only what is missing; sudo when not root.
set -euo pipefail

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

missing=()
[ -x /usr/bin/time ] || missing+=(time)
# tcpdump reads a secured run's packets (WireCaptureTests); Debian's pyzmq reads dptrain's certificates (SecurityProcessTests).
command -v tcpdump >/dev/null 2>&1 || missing+=(tcpdump)
/usr/bin/python3 -c "import zmq.auth" 2>/dev/null || missing+=(python3-zmq)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
# ip and tc build benchmarks/links.sh's hosts from network namespaces and shaped veths (LinksBenchmarkTests, as root).
command -v tc >/dev/null 2>&1 && command -v ip >/dev/null 2>&1 || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# prometheus and promtool (PrometheusProcessTests), without the exporters it recommends.
if [ ! -x /usr/bin/prometheus ] || [ ! -x /usr/bin/promtool ]; then
  echo "installing prometheus"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi

if ! python3 -c "import safetensors, numpy, tensorboard, sklearn" 2>/dev/null; then
  echo "installing Python's safetensors, numpy, tensorboard and scikit-learn"
  python3 -m pip --version >/dev/null 2>&1 || {
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
  }
  # Debian's own Python refuses pip installs outside a virtual environment unless told.
  python3 -m pip install --quiet safetensors numpy tensorboard scikit-learn 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages safetensors numpy tensorboard scikit-learn
fi
