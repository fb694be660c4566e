#!/usr/bin/env bash
# Time to a test accuracy, dptrain against PyTorch, in one run on the same cores: for each seed,
# `dptrain speedrun --target T` (its best recipe, `train --threads` on the cores given) and then
# benchmarks/speedrun_torch.py (PyTorch's best recipe tried: 784-512-256-10 ReLU, batch 256, Adam
# 3e-3, one-cycle, torch.set_num_threads matched to the cores), alternating so that a change in
# the machine's load falls on both. Each time is training only (evaluation excluded) up to the
# first evaluation that reaches the target; prints each seed's, the medians and PyTorch's median
# over dptrain's.
#
#   benchmarks/speedrun.sh [TARGET] [SEEDS] [CORES]     (default 0.98 3 0,1)
#
# DPTRAIN (default .build/release/dptrain, built if missing), MNIST (../shared/mnist) and PYTHON
# (python3, with torch and numpy) say where things are; METRICS, if set, keeps every run's lines;
# TORCH=off leaves PyTorch out. PyTorch's OpenMP threads wait passively (OMP_WAIT_POLICY=PASSIVE
# unless set): on a machine others share, its spinning threads made 2-thread runs take 91-96 s
# to 98.0% where passive ones took 10.5 s (docs/performance.md, "Time to accuracy").
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
cd "$(dirname "$0")/.."
target=${1:-0.98}
seeds=${2:-3}
cores=${3:-0,1}
mnist=${MNIST:-../shared/mnist}
python=${PYTHON:-python3}
dptrain=${DPTRAIN:-.build/release/dptrain}
if [ ! -x "$dptrain" ]; then swift build -c release --product dptrain >/dev/null; fi
metrics=${METRICS:-$(mktemp -d)}
mkdir -p "$metrics"
threads=$(( $(echo "$cores" | tr ',' '\n' | wc -l) ))
if [ "${TORCH:-on}" != off ] && ! "$python" -c 'import torch, numpy' 2>/dev/null; then
  echo "speedrun.sh: $python cannot import torch and numpy: pip install torch numpy, or set PYTHON to a Python that has them (TORCH=off leaves PyTorch out)" >&2
  exit 1
fi

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'); taskset -c $cores; $(uptime)"
printf "%5s %12s %8s %12s %8s\n" seed dptrain_s epochs pytorch_s epochs
ours=() theirs=()
for seed in $(seq 1 "$seeds"); do
  DPTRAIN_DATA=$mnist taskset -c "$cores" "$dptrain" speedrun --target "$target" --first-seed "$seed" --metrics "$metrics/dptrain-$seed.jsonl" \
    >"$metrics/dptrain-$seed.out" 2>&1 || true
  read -r our_s our_epochs < <(python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
hit = [l for l in lines if l.get("event") == "target_reached"]
print(*(("%.3f" % hit[0]["seconds"], "%.2f" % (hit[0]["samples"] / 60000)) if hit else ("missed", "-")))' "$metrics/dptrain-$seed.jsonl")
  their_s=- their_epochs=-
  if [ "${TORCH:-on}" != off ]; then
    taskset -c "$cores" "$python" benchmarks/speedrun_torch.py "$mnist" "$target" "$seed" "$threads" > "$metrics/pytorch-$seed.jsonl"
    read -r their_s their_epochs < <(python3 -c '
import json, sys
l = json.loads(open(sys.argv[1]).read())
print(*(("%.3f" % l["seconds"], l["epochs"]) if l["reached"] else ("missed", "-")))' "$metrics/pytorch-$seed.jsonl")
  fi
  printf "%5s %12s %8s %12s %8s\n" "$seed" "$our_s" "$our_epochs" "$their_s" "$their_epochs"
  ours+=("$our_s") theirs+=("$their_s")
done
python3 -c '
import statistics, sys
ours, theirs = sys.argv[1].split(), sys.argv[2].split()
def median(values):
    numbers = [float(v) for v in values if v not in ("missed", "-")]
    return statistics.median(numbers) if len(numbers) == len(values) else None
a, b = median(ours), median(theirs)
print("median: dptrain %s s, pytorch %s s%s" % ("%.2f" % a if a else "missed", "%.2f" % b if b else "-",
      ", pytorch/dptrain %.2fx" % (b / a) if a and b else ""))' "${ours[*]}" "${theirs[*]}"
echo "after: $(uptime)"
