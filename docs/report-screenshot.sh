#!/usr/bin/env bash
# Makes docs/report.png: the report of a run that starts with 3 workers, takes in
# a fourth after its first epoch and loses it (SIGKILL) an epoch later, rendered
# by headless Chromium. Needs a release build and chromium (deploy/install-test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
dptrain=.build/release/dptrain
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
endpoint="ipc://$work/coordinator.sock"

epochs() { local n; n=$(grep -c '"event":"epoch"' "$work/run.jsonl" 2>/dev/null || true); echo "${n:-0}"; }

"$dptrain" launch --workers 3 --max-workers 4 --bind "$endpoint" --epochs 6 --batch 32 \
  --metrics "$work/run.jsonl" --report "$work/report.html" >"$work/launch.log" 2>&1 &
launch=$!
until [ "$(epochs)" -ge 1 ]; do sleep 0.05; done
"$dptrain" worker --connect "$endpoint" >"$work/worker4.log" 2>&1 &
extra=$!
until [ "$(epochs)" -ge 3 ]; do sleep 0.05; done
kill -KILL "$extra"
wait "$launch"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1440,2150 \
  --screenshot="$PWD/docs/report.png" "file://$work/report.html" 2>/dev/null
grep -E '"event":"(worker_joined|worker_lost)"' "$work/run.jsonl"
echo "wrote docs/report.png"
