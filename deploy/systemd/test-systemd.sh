#!/usr/bin/env bash
# Checks the systemd units with `systemd-analyze verify` (syntax, every directive known, the
# ExecStart executables present and executable) and rates their sandboxing with
# `systemd-analyze security --offline`. The units name /opt/dptrain/bin, where they are installed;
# verify refuses an ExecStart that does not exist, so the test checks copies that name real
# dptrain executables instead (BIN_DIR, or those of a release archive, or of this checkout's
# build), and first makes sure that verify does refuse the missing path, so that a pass means
# something. It does not start the units: that needs systemd as PID 1 (not so in this VM); it does
# run the parameter server's ExecStart as the unit spells it, to see that its flags are accepted.
#
# usage: deploy/systemd/test-systemd.sh [BIN_DIR | ARCHIVE.tar.gz]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "test-systemd.sh: FAILED: $*" >&2; exit 1; }
if ! command -v systemd-analyze >/dev/null; then
  [ "$(id -u)" -eq 0 ] || fail "systemd-analyze is missing: apt-get install systemd"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

source=${1:-}
if [ -z "$source" ]; then
  source=$(ls -t "$repo"/.release/dptrain-*-linux-x86_64.tar.gz 2>/dev/null | head -1 || true)
fi
if [ -z "$source" ]; then
  (cd "$repo" && swift build --product dptrain >/dev/null)
  source=$(cd "$repo" && swift build --show-bin-path)
fi
if [ -d "$source" ]; then
  bin=$(realpath "$source")
else
  tar -xzf "$source" -C "$work"
  bin=$(echo "$work"/dptrain-*-linux-x86_64/bin)
fi
[ -x "$bin/coordinator" ] && [ -x "$bin/worker" ] && [ -x "$bin/parameter-server" ] || fail "no coordinator, worker and parameter-server executables in $bin"

units=(dptrain-coordinator.service dptrain-worker@.service dptrain-parameter-server@.service)
instances=(dptrain-coordinator.service dptrain-worker@1.service dptrain-parameter-server@1.service)
# As shipped, on a machine without /opt/dptrain: verify must say the executable is missing.
mkdir "$work/shipped" "$work/installed"
cp "${units[@]/#/$here/}" "$work/shipped/"
if [ ! -e /opt/dptrain/bin/coordinator ]; then
  if (cd "$work/shipped" && systemd-analyze verify dptrain-coordinator.service >/dev/null 2>&1); then
    fail "systemd-analyze verify accepted a unit whose ExecStart does not exist: it checks less than this test assumes"
  fi
fi
for unit in "${units[@]}"; do
  sed "s|/opt/dptrain/bin/|$bin/|g" "$here/$unit" > "$work/installed/$unit"
done
cd "$work/installed"
report=$(systemd-analyze verify "${instances[@]}" 2>&1) || fail "systemd-analyze verify: $report"
# Warnings come with a zero status: any line about our units is a failure too.
if echo "$report" | grep -q dptrain; then fail "systemd-analyze verify: $report"; fi
echo "test-systemd.sh: ok: systemd-analyze verify passes ${instances[*]} (ExecStart in $bin)"
for unit in "${instances[@]}"; do
  level=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
  [ -n "$level" ] || fail "systemd-analyze security gave no exposure level for $unit"
  awk -v l="$level" 'BEGIN{exit !(l <= 2.0)}' || fail "$unit: exposure level $level, above 2.0: its sandboxing has been loosened"
  echo "test-systemd.sh: ok: $unit exposure level $level (systemd-analyze security: 0 is fully sandboxed, 10 not at all)"
done
# The parameter server's command line as its unit runs it, with the unit's default bind (a
# wildcard, which the server takes only with keys) on a free port and the environment the unit
# gives it (DPTRAIN_KEY, DPTRAIN_COORDINATOR_KEY, here pointing at keys made for the test): it must
# get past its flags and look for its coordinator (gone after a second here), where verify checks
# the executable alone.
unit=$here/dptrain-parameter-server@.service
bind=$(sed -n 's/^Environment="DPTRAIN_PARAMETER_SERVER_BIND=\(.*\)"$/\1/p' "$unit")
[ -n "$bind" ] || fail "dptrain-parameter-server@.service gives DPTRAIN_PARAMETER_SERVER_BIND no default"
grep -q '^Environment=DPTRAIN_KEY=%d/parameter-server.key_secret DPTRAIN_COORDINATOR_KEY=/etc/dptrain/keys/coordinator.key$' "$unit" \
  || fail "dptrain-parameter-server@.service does not give the server its keys as the test expects"
"$bin/dptrain" keygen coordinator --dir "$work/keys" >/dev/null && "$bin/dptrain" keygen parameter-server-1 --dir "$work/keys" >/dev/null
command=$(sed -n 's/^ExecStart=//p' "$unit")
command=${command//\/opt\/dptrain\/bin\//$bin/}
command=${command//'${DPTRAIN_PARAMETER_SERVER_BIND}'/${bind%:*}:0}
read -ra words <<< "$command"
said=$(DPTRAIN_COORDINATOR=ipc://$work/nobody.sock DPTRAIN_KEY=$work/keys/parameter-server-1.key_secret \
  DPTRAIN_COORDINATOR_KEY=$work/keys/coordinator.key timeout 30 "${words[@]}" --give-up-after 1 2>&1) \
  && fail "the parameter server's ExecStart exited 0 without a coordinator: $said"
grep -q "heard nothing from a coordinator" <<< "$said" || fail "the parameter server's ExecStart ($command) stops short: $said"
grep -q "(encrypted, taking the members the coordinator names)" <<< "$said" || fail "the parameter server's ExecStart does not encrypt its members' links: $said"
echo "test-systemd.sh: ok: dptrain-parameter-server@.service's ExecStart, with the unit's keys, starts a server that encrypts its members' links and looks for its coordinator (${words[*]:1})"
echo "test-systemd.sh: passed"
