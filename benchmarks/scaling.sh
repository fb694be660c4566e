#!/usr/bin/env bash
# Weak scaling of dptrain launch against PyTorch DDP (../shared/anchors/torch_ddp.py), in one run on
# one machine: for each per-worker batch and each worker count, `dptrain launch --workers N` and
# `torch_ddp.py` with N ranks train 784-128-10 for EPOCHS epochs with the same learning rate; prints
# each one's samples/s (the median of its epochs after the first, evaluation excluded), its test
# accuracy, and dptrain's rate over PyTorch's.
#
#   benchmarks/scaling.sh [WORKERS] [BATCHES] [EPOCHS]     (default "1 2 4 8 15" "128 512" 4)
#
# DPTRAIN (default .build/release/dptrain, built if missing), ANCHORS (../shared/anchors) and
# MNIST (../shared/mnist) say where things are, for a machine where the release archive was
# unpacked away from a checkout. METRICS, if set, is a folder that keeps every run's metrics.
# FLAGS are added to every dptrain launch (FLAGS="--shared-memory off" measures the sockets);
# TORCH=off leaves PyTorch out.
#
# Then, unless THREADS=off, the same with threads in one process: for each count T and per-thread
# batch B, `dptrain train --threads T --batch T*B --shards T` against torch_single.py with
# torch.set_num_threads(T) at batch T*B and torch_ddp.py with T ranks of B: the same model and
# global batch three ways.
set -euo pipefail
cd "$(dirname "$0")/.."
workers=${1:-1 2 4 8 15}
batches=${2:-128 512}
epochs=${3:-4}
anchors=${ANCHORS:-../shared/anchors}
mnist=${MNIST:-../shared/mnist}
dptrain=${DPTRAIN:-.build/release/dptrain}
if [ ! -x "$dptrain" ]; then swift build -c release --product dptrain >/dev/null; fi
metrics=${METRICS:-$(mktemp -d)}
mkdir -p "$metrics"
lr=0.05

# Median of the epochs after the first (the first pays for start-up and warm caches), and the last
# epoch's test accuracy, from JSON lines that name them RATE and ACCURACY.
summarise() {
  python3 -c '
import json, statistics, sys
rate_key, acc_key = sys.argv[1], sys.argv[2]
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
rows = [r for r in rows if rate_key in r and acc_key in r]
rates = [r[rate_key] for r in rows[1:]] or [r[rate_key] for r in rows]
print(round(statistics.median(rates)) if rates else 0, rows[-1][acc_key] if rows else "-")
' "$1" "$2"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "dptrain launch ${FLAGS:-}: 784-128-10 relu, momentum 0.9, lr $lr constant, $epochs epochs; samples/s = median of epochs 2..$epochs"
printf "%8s %6s %16s %9s %16s %9s %8s\n" workers batch dptrain accuracy torch-ddp accuracy ratio
for batch in $batches; do
  for n in $workers; do
    file="$metrics/dptrain-$n-$batch.jsonl"
    rm -f "$file"
    # --batch is dptrain's global batch: n workers of $batch each, one shard apiece, as DDP's n ranks.
    "$dptrain" launch --workers "$n" --batch $((batch * n)) --shards "$n" --epochs "$epochs" --hidden 128 \
      --lr "$lr" --schedule constant --data "$mnist" --metrics "$file" ${FLAGS:-} >"$metrics/dptrain-$n-$batch.log" 2>&1 \
      || { echo "dptrain launch --workers $n --batch $batch failed: see $metrics/dptrain-$n-$batch.log"; continue; }
    read -r ours our_accuracy < <(grep '"event":"epoch"' "$file" | summarise epoch_samples_per_second test_accuracy)
    theirs=0 their_accuracy=-
    [ "${TORCH:-on}" = off ] || read -r theirs their_accuracy < <(OMP_NUM_THREADS=1 timeout 300 python3 "$anchors/torch_ddp.py" "$mnist" "$n" "$epochs" "$batch" "$lr" 128 relu \
      2>"$metrics/torch-$n-$batch.log" | tee "$metrics/torch-$n-$batch.jsonl" | summarise samples_per_s test_acc)
    awk -v n="$n" -v b="$batch" -v o="$ours" -v oa="$our_accuracy" -v t="$theirs" -v ta="$their_accuracy" \
      'BEGIN {printf "%8d %6d %16d %9s %16d %9s %7.2fx\n", n, b, o, oa, t, ta, (t > 0 ? o / t : 0)}'
  done
done
if [ "${THREADS:-on}" != off ]; then
  echo "dptrain train --threads T against PyTorch with T intra-op threads and DDP with T ranks (global batch T x per-thread batch)"
  printf "%8s %6s %16s %9s %16s %9s %16s %9s %8s %8s\n" threads batch dptrain accuracy torch-threads accuracy torch-ddp accuracy "/torch" "/ddp"
  for batch in $batches; do
    for n in $workers; do
      file="$metrics/train-$n-$batch.jsonl"
      rm -f "$file"
      "$dptrain" train --threads "$n" --batch $((batch * n)) --shards "$n" --epochs "$epochs" --hidden 128 \
        --lr "$lr" --schedule constant --data "$mnist" --metrics "$file" ${FLAGS:-} >"$metrics/train-$n-$batch.log" 2>&1 \
        || { echo "dptrain train --threads $n --batch $((batch * n)) failed: see $metrics/train-$n-$batch.log"; continue; }
      read -r ours our_accuracy < <(grep '"event":"epoch"' "$file" | summarise epoch_samples_per_second test_accuracy)
      single=0 single_accuracy=- theirs=0 their_accuracy=-
      if [ "${TORCH:-on}" != off ]; then
        read -r single single_accuracy < <(THREADS="$n" timeout 600 python3 "$anchors/torch_single.py" "$mnist" "$epochs" $((batch * n)) "$lr" 128 relu \
          2>"$metrics/torch-single-$n-$batch.log" | tee "$metrics/torch-single-$n-$batch.jsonl" | summarise samples_per_s test_acc)
        read -r theirs their_accuracy < <(OMP_NUM_THREADS=1 timeout 300 python3 "$anchors/torch_ddp.py" "$mnist" "$n" "$epochs" "$batch" "$lr" 128 relu \
          2>"$metrics/torch-$n-$batch.log" | summarise samples_per_s test_acc)
      fi
      awk -v n="$n" -v b="$batch" -v o="$ours" -v oa="$our_accuracy" -v s="$single" -v sa="$single_accuracy" -v t="$theirs" -v ta="$their_accuracy" \
        'BEGIN {printf "%8d %6d %16d %9s %16d %9s %16d %9s %7.2fx %7.2fx\n", n, b, o, oa, s, sa, t, ta, (s > 0 ? o / s : 0), (t > 0 ? o / t : 0)}'
    done
  done
fi
echo "metrics and logs: $metrics"
