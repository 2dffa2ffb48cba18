"""The Kubernetes manifests: every overlay renders with kustomize (kubectl's), every object is
schema-valid Kubernetes (kubernetes-validate, strict), and the pieces fit together."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tessera.workspace import WorkspaceConfig
from tests.sdk_models import check_against_model

MANIFESTS = Path(__file__).resolve().parents[2] / "manifests"
OVERLAYS = sorted(p.name for p in (MANIFESTS / "overlays").iterdir() if p.is_dir())
KUBERNETES = "1.32"


def render(overlay: str) -> list[dict]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI"):
            pytest.fail("kubectl (with its kustomize) is needed to render the manifests")
        pytest.skip("no kubectl here")
    result = subprocess.run(
        [kubectl, "kustomize", str(MANIFESTS / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def is_custom_resource(obj: dict) -> bool:
    return obj["apiVersion"].startswith("serving.kserve.io/")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_schema_valid_kubernetes(overlay):
    objects = render(overlay)
    assert {o["kind"] for o in objects} >= {
        "Deployment", "Service", "ConfigMap", "ServiceAccount", "Role", "RoleBinding", "ServingRuntime",
    }  # fmt: skip
    for obj in objects:
        if is_custom_resource(obj):  # KServe's CRDs: against the kserve SDK's models
            check_against_model(obj, f"V1alpha1{obj['kind']}", obj["kind"], *kserve_models())
        else:
            kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    namespaces = {o["metadata"].get("namespace") for o in objects}
    assert len(namespaces) == 1 and None not in namespaces, "one project namespace per overlay"


def test_the_validator_catches_a_misspelled_field():
    deployment = copy.deepcopy(by_kind(render("dev"), "Deployment")["tessera-studio"])
    deployment["spec"]["replicass"] = 2
    with pytest.raises(kubernetes_validate.ValidationError, match="replicass"):
        kubernetes_validate.validate(deployment, KUBERNETES, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_workspace_config_is_valid_and_matches_the_images(overlay):
    objects = render(overlay)
    config = WorkspaceConfig.model_validate(
        yaml.safe_load(by_kind(objects, "ConfigMap")["tessera-config"]["data"]["tessera.yaml"])
    )
    namespace = objects[0]["metadata"]["namespace"]
    assert config.kubeflow is not None and config.kubeflow.namespace == namespace
    images = {
        c["image"] for d in by_kind(objects, "Deployment").values() for c in d["spec"]["template"]["spec"]["containers"]
    }
    images |= {c["image"] for r in by_kind(objects, "ServingRuntime").values() for c in r["spec"]["containers"]}
    assert images == {config.runtime_image}, "studio, MLflow, endpoints and every task run the one runtime image"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_log_receiver_writes_where_the_workspace_reads_and_endpoints_log_to_it(overlay):
    from serving.endpoints import EndpointRequest
    from serving.kserve_target import LOG_RECEIVER, log_receiver_url

    objects = render(overlay)
    config = WorkspaceConfig.model_validate(
        yaml.safe_load(by_kind(objects, "ConfigMap")["tessera-config"]["data"]["tessera.yaml"])
    )
    (container,) = by_kind(objects, "Deployment")[LOG_RECEIVER]["spec"]["template"]["spec"]["containers"]
    assert f"--root={config.prediction_log}" in container["args"], "the receiver writes where monitors read"
    service = by_kind(objects, "Service")[LOG_RECEIVER]
    assert service["spec"]["ports"][0]["port"] == 80, "the logger URL has no port"
    namespace = objects[0]["metadata"]["namespace"]
    request = EndpointRequest(name="cheater-api", model="cheater@champion", namespace=namespace)
    url = log_receiver_url(request, "cheater", "3")
    assert url.startswith(f"http://{LOG_RECEIVER}.{namespace}.svc.cluster.local/?endpoint=cheater-api&model=cheater")
    assert LOG_RECEIVER in by_kind(objects, "NetworkPolicy"), "only the namespace's pods may post logs"


def kserve_models() -> tuple:
    import kubernetes.client.models as kube_models

    from serving.model_server import import_kserve

    import_kserve()
    import kserve.models

    return kserve.models, kube_models


def test_the_serving_runtime_is_the_one_tessera_endpoints_name():
    from serving.kserve_target import MODEL_FORMAT, SERVING_RUNTIME

    runtime = by_kind(render("dev"), "ServingRuntime")[SERVING_RUNTIME]
    assert [f["name"] for f in runtime["spec"]["supportedModelFormats"]] == [MODEL_FORMAT]
    (container,) = runtime["spec"]["containers"]
    assert container["command"] == ["python", "-m", "serving.model_server"]
    broken = copy.deepcopy(runtime)
    broken["spec"]["supportedModelFormat"] = broken["spec"].pop("supportedModelFormats")
    with pytest.raises(AssertionError, match="spec.supportedModelFormat is not a field of V1alpha1ServingRuntimeSpec"):
        check_against_model(broken, "V1alpha1ServingRuntime", "ServingRuntime", *kserve_models())


def test_production_pins_the_runtime_image_by_digest():
    objects = render("production")
    for deployment in by_kind(objects, "Deployment").values():
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "@sha256:" in container["image"], f"{deployment['metadata']['name']} uses a moveable tag"


def test_the_studio_may_create_inference_services_and_kfp_runs_in_its_namespace_only():
    objects = render("dev")
    studio = by_kind(objects, "Deployment")["tessera-studio"]["spec"]["template"]["spec"]
    account = studio["serviceAccountName"]
    binding = by_kind(objects, "RoleBinding")["tessera-studio"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account, "namespace": "tessera-dev"}]
    role = by_kind(objects, "Role")[binding["roleRef"]["name"]]
    grants = {
        (g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"] for v in rule["verbs"]
    }
    assert ("serving.kserve.io", "inferenceservices", "create") in grants
    assert ("pipelines.kubeflow.org", "runs", "create") in grants
    assert ("pipelines.kubeflow.org", "recurringruns", "disable") in grants
    assert not any(kind == "ClusterRole" for kind in (o["kind"] for o in objects)), "nothing cluster-wide"
    command = studio["containers"][0]["command"]
    assert command[:2] == ["tessera", "up"] and "--address" in command
