#!/usr/bin/env bash
# deploy/slurm/dptrain.sbatch against a real Slurm on this one machine: installs Debian's
# slurm-wlm and munge when missing, starts munged, slurmctld and slurmd of its own (their
# configuration, sockets, state and logs in a temporary folder; nothing of the system's is
# touched), submits the job with `sbatch -n 3 --overcommit` (a coordinator and two workers, more
# tasks than this machine's cores), requeues it with `scontrol requeue` once it has written a
# checkpoint, and checks that the requeued job resumed from that checkpoint, finished, and wrote a
# model that `dptrain evaluate` scores at 0.97 or better. Then a second job, one epoch with
# DPTRAIN_PARAMETER_SERVERS=per-node, must train through the node's parameter server, go on
# through a replacement when that server is killed mid-run, leave no process behind, and save the
# same model, bit for bit, as `dptrain train`. Stops every daemon it started.
#
# usage: deploy/slurm/test-slurm.sh [ARCHIVE.tar.gz | BIN_DIR]
#   (default: builds the release archive with deploy/release.sh). Needs root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
began=$(date +%s)
[ "$(id -u)" -eq 0 ] || { echo "test-slurm.sh: needs root, to run slurmd and munged" >&2; exit 1; }
say() { echo "test-slurm.sh: [$(( $(date +%s) - began )) s] $*"; }
fail() { echo "test-slurm.sh: FAILED: $*" >&2; exit 1; }

missing=()
for tool in slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge; do
  command -v "${tool%%:*}" >/dev/null || missing+=("${tool#*:}")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/dptrain-slurm.XXXXXX)
chmod 0755 "$work"
pids=()
cleanup() {
  set +e
  [ -n "${SLURM_CONF:-}" ] && [ -e "$work/slurm.conf" ] && scancel --quiet --full "${job:-0}" 2>/dev/null
  # Daemons in the reverse order of their start, each by the pid this script started.
  for (( i=${#pids[@]}-1; i>=0; i-- )); do
    kill "${pids[$i]}" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "${pids[$i]}" 2>/dev/null || break; sleep 0.1; done
    kill -9 "${pids[$i]}" 2>/dev/null
  done
  # slurmstepd and job processes that outlived their slurmd: only those started under this folder.
  for pid in $(pgrep -f "$work" || true); do [ "$pid" != $$ ] && kill -9 "$pid" 2>/dev/null; done
  [ "${keep:-0}" = 1 ] && say "left $work for a look" || rm -rf "$work"
}
trap cleanup EXIT

# The executables: an archive unpacked here, a folder given, or a fresh release archive.
source=${1:-}
if [ -z "$source" ]; then
  source=$("$repo/deploy/release.sh" | tail -1 | awk '{print $2}')
fi
if [ -d "$source" ]; then
  bin=$(realpath "$source")
else
  tar -xzf "$source" -C "$work"
  bin=$(echo "$work"/dptrain-*-linux-x86_64/bin)
fi
[ -x "$bin/dptrain" ] || fail "no dptrain in $bin"
say "executables: $bin ($("$bin/dptrain" --version))"

# What the recipe refuses before it starts anything, each with one line saying what to do: a
# DPTRAIN_PARAMETER_SERVERS it does not know, and a --parameter-servers of the user's (servers the
# recipe would not start).
refused() {   # refused EXPECTED ENVIRONMENT... -- ARGUMENTS...
  local expected=$1 said; shift
  local environment=(); while [ "$1" != -- ]; do environment+=("$1"); shift; done; shift
  said=$(cd "$work" && env SLURM_JOB_ID=1 SLURM_NTASKS=3 SLURM_NNODES=1 DPTRAIN_BIN="$bin" "${environment[@]}" \
    timeout 30 bash "$repo/deploy/slurm/dptrain.sbatch" "$@" 2>&1) && fail "dptrain.sbatch ran with ${environment[*]} $*"
  [ "$(wc -l <<< "$said")" -eq 1 ] && grep -qF "$expected" <<< "$said" || fail "dptrain.sbatch with ${environment[*]} $*: '$said', not one line with '$expected'"
}
refused "set it to per-node (a parameter server on every node) or off" DPTRAIN_PARAMETER_SERVERS=2 -- --epochs 1
refused "drop --parameter-servers=2 and set DPTRAIN_PARAMETER_SERVERS=per-node" -- --epochs 1 --parameter-servers=2
say "dptrain.sbatch refuses DPTRAIN_PARAMETER_SERVERS=2 and a --parameter-servers of its arguments, in one line each"

# munge, on a socket and key of its own.
mkdir -p "$work/munge"
mungekey --create --keyfile="$work/munge/munge.key" 2>/dev/null || dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 0600 "$work/munge/munge.key"
munged --force --foreground --socket="$work/munge/socket" --key-file="$work/munge/munge.key" \
  --pid-file="$work/munge/pid" --log-file="$work/munge/log" --seed-file="$work/munge/seed" > "$work/munge/stdout" 2>&1 &
pids+=($!)

node=$(hostname -s)
ctld_port=$(( 16817 + RANDOM % 1000 ))
cat > "$work/slurm.conf" <<EOF
ClusterName=dptraintest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$(( ctld_port + 1000 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
# A requeued job waits cred_expire seconds (default 120) before it may start again, and the
# scheduler looks at waiting jobs every sched_interval (default 60): both shortened for the test.
AuthInfo=socket=$work/munge/socket,cred_expire=10
SchedulerParameters=sched_interval=2
CredType=cred/munge
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
JobRequeue=1
KillWait=10
NodeName=$node NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
mkdir -p "$work/state" "$work/spool"
export SLURM_CONF=$work/slurm.conf
for _ in $(seq 1 50); do [ -S "$work/munge/socket" ] && break; sleep 0.1; done
[ -S "$work/munge/socket" ] || fail "munged did not start: $(cat "$work/munge/log" 2>/dev/null)"
slurmctld -D -i -f "$SLURM_CONF" > "$work/slurmctld.stdout" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N "$node" > "$work/slurmd.stdout" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  sinfo -h -N -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)' && break
  sleep 0.2
done
sinfo -h -N -o %t 2>/dev/null | grep -Eq '^idle' || { keep=1; fail "the node did not come up: $(sinfo -N 2>&1 | tail -2); see $work/slurmd.log"; }
say "slurmctld and slurmd up ($(sinfo -h -N -o '%N %c CPUs %t'))"

# The job: a coordinator and two workers, 3 epochs, a checkpoint every 200 steps.
jobdir=$work/job
mkdir -p "$jobdir"
job=$(cd "$jobdir" && DPTRAIN_BIN=$bin sbatch --parsable -n 3 --overcommit "$repo/deploy/slurm/dptrain.sbatch" \
  --epochs 3 --batch 64 --checkpoint-every 200 --save "$jobdir/model.safetensors" --metrics "$jobdir/metrics.jsonl")
say "submitted job $job"
checkpoints=$jobdir/dptrain-$job/checkpoints
job_state() { scontrol show job "$job" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
for _ in $(seq 1 1200); do
  ls "$checkpoints"/checkpoint-*.dpck >/dev/null 2>&1 && break
  [[ $(job_state) =~ ^(PENDING|CONFIGURING|RUNNING)$ ]] || break
  sleep 0.1
done
ls "$checkpoints"/checkpoint-*.dpck >/dev/null 2>&1 || { keep=1; fail "no checkpoint appeared in $checkpoints: $(tail -5 "$jobdir/dptrain-$job.out" 2>/dev/null)"; }
scontrol requeue "$job"
say "requeued job $job after its checkpoint $(basename "$(ls "$checkpoints"/checkpoint-*.dpck | head -1)")"

# Back in the queue, then run again to the end.
for _ in $(seq 1 1800); do
  state=$(job_state)
  [ "$state" = "${last_state:-}" ] || say "job $job: $state${restarts:+ (restarts: $restarts)}"
  last_state=$state
  restarts=$(scontrol show job "$job" 2>/dev/null | sed -n 's/.*Restarts=\([0-9]*\).*/\1/p')
  [ "${restarts:-0}" -ge 1 ] && [[ $state =~ ^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY)$ ]] && break
  sleep 0.5
done
out=$jobdir/dptrain-$job.out
[ "$state" = COMPLETED ] || { keep=1; fail "job $job ended $state after $restarts restart(s): $(tail -15 "$out")"; }
grep -q "restart 1)" "$out" || fail "the job's output shows no second run: $(head -5 "$out")"
say "$(grep -m1 '^dptrain.sbatch: job' "$out")"
grep -q "resumed from $checkpoints/checkpoint-" "$out" || fail "the requeued job did not resume from its checkpoint: $(grep -m3 -E 'resum|checkpoint' "$out")"
say "the requeued job $(grep -m1 -o "resumed from [^ ]*: step [0-9]*, epoch [0-9]*" "$out")"
grep -q "^done: test accuracy" "$out" || fail "no done line: $(tail -5 "$out")"
grep -q "^dptrain.sbatch: Prometheus: the coordinator on http://.*:$((20000 + job % 10000 + 1000))/metrics" "$out" \
  || fail "the job's output names no Prometheus endpoint: $(grep -m2 -i prometheus "$out")"
say "$(grep -m1 '^dptrain.sbatch: Prometheus' "$out")"

"$bin/dptrain" evaluate --model "$jobdir/model.safetensors" > "$work/evaluate.out" || fail "dptrain evaluate could not read the model"
accuracy=$(sed -n 's/.*test accuracy \([0-9.]*\).*/\1/p' "$work/evaluate.out" | head -1)
awk -v a="$accuracy" 'BEGIN{exit !(a >= 0.97)}' || fail "the model scores $accuracy, below 0.97"
say "dptrain evaluate: test accuracy $accuracy ($(grep '^done:' "$out"))"

# A second job with DPTRAIN_PARAMETER_SERVERS=per-node: a parameter server beside the node's
# workers, which the coordinator waits for and the workers train through. Its server is killed
# (SIGKILL) once the first checkpoint is written: the recipe starts its replacement at the same
# endpoint, the coordinator takes it and goes back to the weights it last fetched, and the model
# is still the one `dptrain train` makes in one process, bit for bit. Nothing outlives the job.
served=$work/served
mkdir -p "$served"
job=$(cd "$served" && DPTRAIN_BIN=$bin DPTRAIN_PARAMETER_SERVERS=per-node sbatch --parsable -n 3 --overcommit \
  "$repo/deploy/slurm/dptrain.sbatch" --epochs 1 --batch 64 --checkpoint-every 200 --save "$served/model.safetensors")
say "submitted job $job with DPTRAIN_PARAMETER_SERVERS=per-node"
server_pattern="parameter-server --connect tcp://[^ ]*:$((20000 + job % 10000)) "
for _ in $(seq 1 1200); do
  ls "$served/dptrain-$job/checkpoints"/checkpoint-*.dpck >/dev/null 2>&1 && break
  [[ $(job_state) =~ ^(PENDING|CONFIGURING|RUNNING)$ ]] || break
  sleep 0.1
done
server=$(pgrep -f "$server_pattern" || true)
[ "$(wc -w <<< "$server")" -eq 1 ] || { keep=1; fail "job $job: not one parameter server running at its first checkpoint (pids: ${server:-none}): $(tail -5 "$served/dptrain-$job.out")"; }
kill -KILL "$server"
say "killed job $job's parameter server (pid $server) after its checkpoint $(basename "$(ls "$served/dptrain-$job/checkpoints"/checkpoint-*.dpck | head -1)")"
for _ in $(seq 1 1200); do
  state=$(job_state)
  [[ $state =~ ^(PENDING|CONFIGURING|RUNNING|COMPLETING)$ ]] || break
  sleep 0.5
done
out=$served/dptrain-$job.out
[ "$state" = COMPLETED ] || { keep=1; fail "job $job with parameter servers ended $state: $(tail -15 "$out")"; }
grep -q "parameter servers: one on each of 1 node(s)" "$out" || fail "the job's output names no parameter servers: $(grep -m1 '^dptrain.sbatch: job' "$out")"
grep -Eq "parameter server 1 of 1 \(.*members reach it at tcp://127\.0\.0\.1:$((20000 + job % 10000 + 1))\) holds parameters 0\.\." "$out" \
  || fail "the coordinator took no parameter server on the node's address: $(grep -m3 -i 'parameter server' "$out")"
say "$(grep -m1 -o 'parameter server 1 of 1 .*' "$out")"
# The job's throwaway keys: the server encrypts its links to the workers with its own.
grep -q "^parameter-server: parameter server for members at tcp://127.0.0.1:$((20000 + job % 10000 + 1)) (encrypted, taking the members the coordinator names)" "$out" \
  || fail "the parameter server did not encrypt its members' links with its key: $(grep -m1 '^parameter-server: parameter server for members' "$out")"
grep -q "^parameter-server: prometheus: serving http://0.0.0.0:$((20000 + job % 10000 + 1000 + 3))/metrics" "$out" \
  || fail "the parameter server serves no /metrics at the port the recipe names (DPTRAIN_PROMETHEUS_PORT+3+0): $(grep -m2 'parameter-server: prometheus' "$out")"
grep -q "starting its replacement at tcp://127.0.0.1:$((20000 + job % 10000 + 1)) (1 of 10)" "$out" \
  || { keep=1; fail "the recipe did not start a replacement for the killed server: $(grep -m3 -i 'parameter server' "$out")"; }
grep -q "every range has its server again" "$out" || { keep=1; fail "the coordinator did not take the replacement: $(grep -m5 -iE 'lost|parameter server' "$out")"; }
say "$(grep -m1 -o 'parameter server 1 ([^)]*) lost at step [0-9]*' "$out"); $(grep -m1 -o 'going back to step [0-9]*' "$out")"
grep -q "^done: test accuracy" "$out" || fail "no done line: $(tail -5 "$out")"
left=$(pgrep -f "$server_pattern" || true)
[ -z "$left" ] || fail "parameter servers outlived job $job: $(ps -o pid,args -p "${left//$'\n'/,}")"
"$bin/dptrain" train --epochs 1 --batch 64 --save "$work/alone.safetensors" > "$work/alone.out" 2>&1 || fail "dptrain train: $(tail -3 "$work/alone.out")"
cmp -s "$work/alone.safetensors" "$served/model.safetensors" \
  || fail "job $job's model (a parameter server killed and replaced, two workers) differs from dptrain train's in one process"
say "job $job: $(grep '^done:' "$out"), the same model bit for bit as dptrain train --epochs 1 --batch 64, a killed server and all"
say "passed in $(( $(date +%s) - began )) s"
