#!/usr/bin/env bash
# For every OpenBLAS core dptrain accepts (DPTRAIN_BLAS_CORE), whether a row of an sgemm product
# has the same bits whatever the number of rows in the product (benchmarks/tools/blas-rows.c):
# the condition for running a step's forward products over a thread's whole group of chunks.
#   benchmarks/blas-rows.sh [CORE ...]     (default: the x86-64 cores dptrain accepts)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
gcc -O2 -o "$dir/blas-rows" benchmarks/tools/blas-rows.c -lopenblas
cores=${*:-Katmai Coppermine Northwood Prescott Banias Atom Core2 Penryn Dunnington Nehalem Athlon Opteron Opteron_SSE3 Barcelona Nano Sandybridge Bobcat Bulldozer Piledriver Haswell Steamroller Excavator Zen SkylakeX Cooperlake SapphireRapids}
echo "# $(date -u +%FT%TZ) $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(python3 -c 'import ctypes; l=ctypes.CDLL("libopenblas.so.0"); l.openblas_get_config.restype=ctypes.c_char_p; print(l.openblas_get_config().decode())')"
for core in $cores; do
  echo "== OPENBLAS_CORETYPE=$core"
  OPENBLAS_CORETYPE=$core "$dir/blas-rows" 2>/dev/null || echo "$core: its kernels cannot run on this CPU (exit $?)"
done
