#!/usr/bin/env bash
# Validates the manifests in deploy/kubernetes offline against the Kubernetes API schemas, with
# PyPI's kubernetes-validate (strict: unknown fields are errors), installed into a virtual
# environment of its own; checks what the recipe promises (a coordinator Job and its Service,
# the workers as a Deployment requesting one core each, the keys as a Secret, checkpoints on a
# PersistentVolumeClaim, the pods' Prometheus port and scrape annotations, parameter servers as a
# StatefulSet as many as the coordinator's --parameter-servers, each with keys, binding its pod's
# address on the port that its headless Service names and a NetworkPolicy opens to the worker pods
# alone, and refuses a StatefulSet whose replicas disagree with the coordinator); validates the Prometheus
# operator's PodMonitor, which kubernetes-validate has no schema for, against PyPI's models of the
# operator's resources (cloudcoil-models-prometheus-operator, generated from its CRDs: types checked,
# and an unknown field refused by reading it back); and makes sure a broken manifest is refused,
# so that a pass means something. Nothing is applied to a cluster: none is reachable from this machine.
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
"$venv/bin/python" -c 'import cloudcoil.models.prometheus_operator' 2>/dev/null \
  || "$venv/bin/pip" install --quiet cloudcoil-models-prometheus-operator
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
sed 's/podMetricsEndpoints/podMetricEndpoints/' "$here/podmonitor.yaml" > "$work/bad-monitor-field.yaml"
sed 's/interval: 15s/interval: 15/' "$here/podmonitor.yaml" > "$work/bad-monitor-type.yaml"
for bad in bad-type bad-field; do
  if validate --quiet "$work/$bad.yaml" >/dev/null 2>&1; then fail "kubernetes-validate accepted $bad.yaml: the check is toothless"; fi
done

# The PodMonitor against the operator's own schema: every field known and of its type.
validate_monitors() {
  "$venv/bin/python" - "$@" <<'PY'
import sys, yaml
from cloudcoil.models.prometheus_operator.v1 import PodMonitor
for path in sys.argv[1:]:
    for doc in yaml.safe_load_all(open(path)):
        if not doc or doc.get("kind") != "PodMonitor":
            continue
        model = PodMonitor.model_validate(doc)
        # The models ignore a field they do not know: reading the manifest back shows one.
        back = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        assert back == doc, f"{path}: fields the PodMonitor schema does not have: {doc} read back as {back}"
PY
}
validate_monitors "${manifests[@]}" || fail "the PodMonitor does not fit the Prometheus operator's schema"
for bad in bad-monitor-field bad-monitor-type; do
  if validate_monitors "$work/$bad.yaml" >/dev/null 2>&1; then fail "the PodMonitor check accepted $bad.yaml: it is toothless"; fi
done

# What the recipe promises, read from the manifests themselves.
promises() {
"$venv/bin/python" - "$@" <<'PY'
import sys, yaml
docs = [d for path in sys.argv[1:] for d in yaml.safe_load_all(open(path)) if d]
by_kind = {}
for d in docs:
    by_kind.setdefault(d["kind"], []).append(d)
def one(kind):
    assert len(by_kind.get(kind, [])) == 1, f"expected one {kind}, found {len(by_kind.get(kind, []))}"
    return by_kind[kind][0]
job, deployment, servers = one("Job"), one("Deployment"), one("StatefulSet")
services = {s["metadata"]["name"]: s for s in by_kind["Service"]}
service = services["dptrain-coordinator"]
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
for pod in (job["spec"]["template"]["spec"], deployment["spec"]["template"]["spec"], servers["spec"]["template"]["spec"]):
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
monitor = one("PodMonitor")
for pod in (job, deployment, servers):
    template = pod["spec"]["template"]
    container = template["spec"]["containers"][0]
    assert "--prometheus=0.0.0.0:9400" in container.get("args", []), f"{pod['kind']} serves no /metrics on the pod's address"
    assert {"name": "metrics", "containerPort": 9400, "protocol": "TCP"} in container["ports"], f"{pod['kind']} names no metrics port"
    assert template["metadata"]["annotations"] == {"prometheus.io/scrape": "true", "prometheus.io/port": "9400", "prometheus.io/path": "/metrics"}
    assert monitor["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), f"the PodMonitor misses the {pod['kind']}"
assert monitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
# Parameter servers: as many as the coordinator waits for, each on its pod's address (which
# workers on other pods reach), with keys (which encrypt the workers' links; --insecure would
# contradict them), finding the coordinator as the workers do, behind a NetworkPolicy that lets
# the worker pods alone reach the server's port.
counts = [a.split("=", 1)[1] for a in args if a.startswith("--parameter-servers=")]
assert len(counts) == 1, "the coordinator's args do not say --parameter-servers=K once"
assert servers["spec"]["replicas"] == int(counts[0]), f"the StatefulSet runs {servers['spec']['replicas']} parameter servers, the coordinator waits for {counts[0]}"
template = servers["spec"]["template"]
assert servers["spec"]["selector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), "the StatefulSet selects none of its pods"
server = template["spec"]["containers"][0]
assert server["command"] == ["parameter-server"], "the StatefulSet does not run parameter-server"
binds = [a.split("=", 1)[1] for a in server["args"] if a.startswith("--bind=")]
assert len(binds) == 1 and binds[0].startswith("tcp://$(POD_IP):"), f"a server binds {binds}, not its pod's address"
server_port = int(binds[0].rsplit(":", 1)[1])
assert "--insecure" not in server["args"], "a server with keys must not be given --insecure (parameter-server refuses the two together)"
server_env = {e["name"]: e for e in server["env"]}
assert server_env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP", "POD_IP is not the pod's address"
assert server_env["DPTRAIN_COORDINATOR"]["value"] == env["DPTRAIN_COORDINATOR"], "the servers look for another coordinator than the workers"
assert server_env["DPTRAIN_KEY"]["value"] == env["DPTRAIN_KEY"] and server_env["DPTRAIN_COORDINATOR_KEY"]["value"] == env["DPTRAIN_COORDINATOR_KEY"], "the servers do not use the workers' keys, which the coordinator admits"
assert {"name": "members", "containerPort": server_port, "protocol": "TCP"} in server["ports"], "the server's port is not named members"
headless = services[servers["spec"]["serviceName"]]
assert headless["spec"]["clusterIP"] == "None", "the StatefulSet's Service is not headless"
assert headless["spec"]["selector"].items() <= template["metadata"]["labels"].items(), "the headless Service selects no server pod"
policy = one("NetworkPolicy")
assert policy["spec"]["podSelector"]["matchLabels"].items() <= template["metadata"]["labels"].items(), "the NetworkPolicy misses the server pods"
assert policy["spec"]["policyTypes"] == ["Ingress"], "the NetworkPolicy does not confine what reaches the servers"
rules = policy["spec"]["ingress"]
# Anyone may reach the metrics port, and nothing else; the servers' port is the workers' alone.
assert [r for r in rules if "from" not in r] == [{"ports": [{"port": 9400, "protocol": "TCP"}]}], f"the NetworkPolicy opens more than the metrics port to all: {rules}"
members = [r for r in rules if "from" in r]
assert len(members) == 1, f"the NetworkPolicy has {len(members)} rules with sources, not one for the workers"
rule = members[0]
assert [p["port"] for p in rule["ports"]] == [server_port], f"the NetworkPolicy opens {rule['ports']}, not the servers' port {server_port}"
for source in rule["from"]:
    selected = source["podSelector"]["matchLabels"].items()
    assert selected <= deployment["spec"]["template"]["metadata"]["labels"].items(), f"the NetworkPolicy lets in pods other than the workers: {source}"
    assert not selected <= job["spec"]["template"]["metadata"]["labels"].items(), "the NetworkPolicy lets the coordinator's pod in too"
print("test-kubernetes.sh: ok: Job + Service, Deployment at 1 CPU per worker, Secret, PVC, PodMonitor and scrape annotations on port 9400; workers find tcp://%s:%d" % (service["metadata"]["name"], port))
print("test-kubernetes.sh: ok: %d parameter server(s) as the coordinator's --parameter-servers, with the workers' keys, on tcp://$(POD_IP):%d, open to the worker pods alone" % (servers["spec"]["replicas"], server_port))
PY
}
promises "${manifests[@]}" || fail "the manifests do not hold what docs/deployment.md promises"
# With parameter servers, the two counts must move together: a StatefulSet of 2 for a coordinator
# that waits for none must be refused.
mkdir "$work/mismatch"
cp "${manifests[@]}" "$work/mismatch/"
sed -i 's/^  replicas: 0$/  replicas: 2/' "$work/mismatch/parameter-servers-statefulset.yaml"
cmp -s "$here/parameter-servers-statefulset.yaml" "$work/mismatch/parameter-servers-statefulset.yaml" && fail "the mismatch case did not change the StatefulSet's replicas"
if promises "$work/mismatch"/*.yaml >/dev/null 2>&1; then fail "the promise check accepted 2 parameter servers for a coordinator that waits for 0: it is toothless"; fi
echo "test-kubernetes.sh: passed (kubernetes-validate $("$venv/bin/kubernetes-validate" --version 2>&1 | head -1), Kubernetes schemas ${1:-of its default version})"
