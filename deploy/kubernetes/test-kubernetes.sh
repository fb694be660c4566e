#!/usr/bin/env bash
# Validates the manifests in deploy/kubernetes offline against the Kubernetes API schemas, with
# PyPI's kubernetes-validate (strict: unknown fields are errors), installed into a virtual
# environment of its own; checks what the recipe promises (a coordinator Job and its Service,
# the workers as a Deployment requesting one core each, the keys as a Secret, checkpoints on a
# PersistentVolumeClaim); and makes sure a broken manifest is refused, so that a pass means
# something. Nothing is applied to a cluster: none is reachable from this machine.
#
# usage: deploy/kubernetes/test-kubernetes.sh [KUBERNETES_VERSION]   (default: the package's newest)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "test-kubernetes.sh: FAILED: $*" >&2; exit 1; }
venv=$repo/.build/kubernetes-validate
if [ ! -x "$venv/bin/kubernetes-validate" ]; then
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    [ "$(id -u)" -eq 0 ] || fail "python3 cannot make a virtual environment: apt-get install python3-venv"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" || fail "python3 -m venv failed"
  "$venv/bin/pip" install --quiet kubernetes-validate
fi
version_flag=()
[ -z "${1:-}" ] || version_flag=(-k "$1")
validate() { "$venv/bin/kubernetes-validate" --strict "${version_flag[@]}" "$@"; }

manifests=("$here"/*.yaml)
validate "${manifests[@]}" || fail "kubernetes-validate refused the manifests"

# A typo that kubectl would refuse must be refused here too.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/replicas: 2/replicas: two/' "$here/workers-deployment.yaml" > "$work/bad-type.yaml"
sed 's/terminationGracePeriodSeconds/terminationGraceSeconds/' "$here/coordinator-job.yaml" > "$work/bad-field.yaml"
for bad in bad-type bad-field; do
  if validate --quiet "$work/$bad.yaml" >/dev/null 2>&1; then fail "kubernetes-validate accepted $bad.yaml: the check is toothless"; fi
done

# What the recipe promises, read from the manifests themselves.
"$venv/bin/python" - "${manifests[@]}" <<'PY' || fail "the manifests do not hold what docs/deployment.md promises"
import sys, yaml
docs = [d for path in sys.argv[1:] for d in yaml.safe_load_all(open(path)) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
def one(kind):
    assert len(by_kind.get(kind, [])) == 1, f"expected one {kind}, found {len(by_kind.get(kind, []))}"
    return by_kind[kind][0]
job, service, deployment = one("Job"), one("Service"), one("Deployment")
one("Secret"); pvc = one("PersistentVolumeClaim")
coordinator = job["spec"]["template"]["spec"]["containers"][0]
assert service["spec"]["selector"].items() <= job["spec"]["template"]["metadata"]["labels"].items(), "the Service selects no coordinator pod"
args = coordinator["args"]
assert "--resume" in args and any(a.startswith("--checkpoint=") for a in args), "the coordinator does not checkpoint and resume"
claims = [v["persistentVolumeClaim"]["claimName"] for v in job["spec"]["template"]["spec"]["volumes"] if "persistentVolumeClaim" in v]
assert claims == [pvc["metadata"]["name"]], "the coordinator's checkpoints are not on the PersistentVolumeClaim"
worker = deployment["spec"]["template"]["spec"]["containers"][0]
assert worker["resources"]["requests"]["cpu"] in ("1", 1, "1000m"), "a worker does not request one core"
env = {e["name"]: e.get("value") for e in worker["env"]}
port = service["spec"]["ports"][0]["port"]
assert env["DPTRAIN_COORDINATOR"] == f"tcp://{service['metadata']['name']}:{port}", "the workers do not find the Service"
# The secret keys as the kubelet will lay them out: with an fsGroup it makes every Secret file
# root:fsGroup and adds group read to defaultMode, so dptrain must be given exactly what
# KubernetesSecretTests (Tests/CommandsTests/SecurityProcessTests.swift) proves it accepts: 0440,
# group 65532 = the pod's own group, read-only. Anything wider (0444) dptrain refuses, rightly.
for pod in (job["spec"]["template"]["spec"], deployment["spec"]["template"]["spec"]):
    context = pod["securityContext"]
    assert context["runAsUser"] == context["runAsGroup"] == context["fsGroup"] == 65532, "the pod's user, group and fsGroup are not 65532"
    container = pod["containers"][0]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    for volume in pod["volumes"]:
        secret = volume.get("secret")
        if not secret or not any(i["path"].endswith(".key_secret") for i in secret.get("items", [])):
            continue
        modes = [secret.get("defaultMode", 0o644)] + [i["mode"] for i in secret["items"] if "mode" in i]
        assert all((m | 0o440) == 0o440 for m in modes), f"{volume['name']}: a secret key mode {[oct(m) for m in modes]} wider than 0440"
        assert mounts[volume["name"]].get("readOnly") is True, f"{volume['name']} is not mounted read-only"
    assert container["image"].startswith("dptrain:"), "the image is not dptrain's"
print("test-kubernetes.sh: ok: Job + Service, Deployment at 1 CPU per worker, Secret, PVC; workers find tcp://%s:%d" % (service["metadata"]["name"], port))
PY
echo "test-kubernetes.sh: passed (kubernetes-validate $("$venv/bin/kubernetes-validate" --version 2>&1 | head -1), Kubernetes schemas ${1:-of its default version})"
