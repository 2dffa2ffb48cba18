"""The manifests would run on a real, locked-down cluster: every pod template passes Pod Security "restricted",
every long-running container has startup, readiness and liveness probes, no credentials are committed,
NetworkPolicies select the pods they mean, and MLflow's server answers its Service names (checked against a
real `mlflow server` started with the rendered setting) but not other Host headers."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tessera.ports import free_port
from tests.manifests.test_manifests import OVERLAYS, render

ALLOWED_VOLUMES = {
    "configMap",
    "emptyDir",
    "projected",
    "secret",
    "downwardAPI",
    "persistentVolumeClaim",
    "ephemeral",
    "csi",
}


def pod_templates(objects: list[dict]) -> list[tuple[str, dict]]:
    """(name, pod spec) of every Deployment and of KServe's ServingRuntime (its spec is a pod spec's subset)."""
    found = []
    for obj in objects:
        if obj["kind"] in {"Deployment", "StatefulSet", "Job", "DaemonSet"}:
            found.append((f"{obj['kind']}/{obj['metadata']['name']}", obj["spec"]["template"]["spec"]))
        elif obj["kind"] == "ServingRuntime":
            found.append((f"ServingRuntime/{obj['metadata']['name']}", obj["spec"]))
    return found


def restricted_violations(name: str, pod: dict) -> list[str]:
    """Kubernetes' Pod Security Standard "restricted", as the admission controller checks it."""
    problems = []
    pod_context = pod.get("securityContext") or {}
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(key):
            problems.append(f"{name}: {key}")
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= ALLOWED_VOLUMES:
            problems.append(f"{name}: volume {volume['name']} is {kinds}")
    for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        where = f"{name} container {container['name']}"
        context = container.get("securityContext") or {}
        merged = pod_context | context
        if merged.get("runAsNonRoot") is not True:
            problems.append(f"{where}: runAsNonRoot is not true")
        if merged.get("runAsUser") == 0:
            problems.append(f"{where}: runs as uid 0")
        if (merged.get("seccompProfile") or {}).get("type") not in {"RuntimeDefault", "Localhost"}:
            problems.append(f"{where}: no RuntimeDefault seccomp profile")
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{where}: allowPrivilegeEscalation is not false")
        if context.get("privileged"):
            problems.append(f"{where}: privileged")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities do not drop ALL")
        if set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}:
            problems.append(f"{where}: adds capabilities {capabilities['add']}")
        if any(port.get("hostPort") for port in container.get("ports") or []):
            problems.append(f"{where}: hostPort")
    return problems


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_template_passes_pod_security_restricted(overlay: str) -> None:
    templates = pod_templates(render(overlay))
    assert {n for n, _ in templates} >= {
        "Deployment/tessera-mlflow",
        "Deployment/tessera-studio",
        "ServingRuntime/tessera-predictor",
    }
    problems = [p for name, pod in templates for p in restricted_violations(name, pod)]
    assert problems == []


def test_the_checker_finds_what_restricted_refuses() -> None:
    pod = {"hostNetwork": True, "volumes": [{"name": "h", "hostPath": {"path": "/"}}],
           "containers": [{"name": "c", "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}}]}  # fmt: skip
    found = " ".join(restricted_violations("p", pod))
    for word in (
        "hostNetwork",
        "hostPath",
        "runAsNonRoot",
        "seccomp",
        "allowPrivilegeEscalation",
        "privileged",
        "drop ALL",
        "SYS_ADMIN",
    ):
        assert word in found


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_long_running_containers_have_startup_readiness_and_liveness_probes_and_a_read_only_root(overlay: str) -> None:
    for name, pod in pod_templates(render(overlay)):
        for container in pod["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in container, f"{name} {container['name']} has no {probe}"
            assert container["securityContext"].get("readOnlyRootFilesystem") is True, f"{name}: writable root"
            mounts = {m["mountPath"] for m in container.get("volumeMounts") or []}
            assert "/tmp" in mounts, f"{name}: a read-only root needs a writable /tmp"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_no_credentials_are_committed(overlay: str) -> None:
    objects = render(overlay)
    assert [o["metadata"]["name"] for o in objects if o["kind"] == "Secret"] == [], "secrets are created by the team"
    mlflow = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "tessera-mlflow")
    container = mlflow["spec"]["template"]["spec"]["containers"][0]
    assert "--app-name=basic-auth" in container["args"], "the tracking server asks who is calling"
    secrets = {v["secret"]["secretName"] for v in mlflow["spec"]["template"]["spec"]["volumes"] if "secret" in v}
    assert secrets == {"tessera-mlflow-auth"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_select_the_pods_they_guard(overlay: str) -> None:
    objects = render(overlay)
    policies = {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}
    deployments = {o["metadata"]["name"]: o for o in objects if o["kind"] == "Deployment"}
    for name in ("tessera-mlflow", "tessera-studio"):
        selector = policies[name]["spec"]["podSelector"]["matchLabels"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), f"the {name} policy selects the {name} pods"
    assert policies["tessera-mlflow"]["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 5000}]


@pytest.mark.slow
def test_mlflow_answers_its_service_names_and_refuses_other_hosts(tmp_path) -> None:
    """A real MLflow server with the rendered MLFLOW_SERVER_ALLOWED_HOSTS: in-cluster names work, others get 403."""
    objects = render("production")
    mlflow = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "tessera-mlflow")
    env = {e["name"]: e.get("value") for e in mlflow["spec"]["template"]["spec"]["containers"][0]["env"]}
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{tmp_path / 'mlflow.db'}", "--workers", "1"],
        env=os.environ | {"MLFLOW_SERVER_ALLOWED_HOSTS": env["MLFLOW_SERVER_ALLOWED_HOSTS"], "MLFLOW_DISABLE_TELEMETRY": "true"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        search = f"{url}/api/2.0/mlflow/experiments/search?max_results=1"
        for host in (
            "tessera-mlflow:5000",
            "tessera-mlflow.risk-team.svc:5000",
            "tessera-mlflow.risk-team.svc.cluster.local:5000",
            f"localhost:{port}",
        ):
            assert httpx.get(search, headers={"Host": host}, timeout=10).status_code == 200, host
        for host in ("evil.example.com", "tessera-mlflow.evil.example.com:5000"):
            assert httpx.get(search, headers={"Host": host}, timeout=10).status_code == 403, host
    finally:
        server.terminate()
        server.wait(timeout=30)
