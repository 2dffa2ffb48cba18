"""The `EndpointTarget` contract, run against the local process target and the KServe target.

KServe has no cluster here: the real `KServeClient` runs with its Kubernetes API object replaced by
a double that stores what it is sent, serialised as the Kubernetes client would, and checks that
every object survives a round trip through the kserve SDK's `V1beta1InferenceService` model."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from serving.endpoint_registry import EndpointRegistry
from serving.endpoints import EndpointError, EndpointRequest
from serving.kserve_target import KServeTarget, to_manifest
from serving.local_target import LocalProcessTarget
from serving.model_registry import ModelRegistry
from serving.model_server import import_kserve
from serving.tokens import token_hash
from tests.sdk_models import check_against_model as check_sdk_model
from tests.serving.fixtures import ServedWorkspace

pytestmark = pytest.mark.slow


class CustomObjectsDouble:
    """Stands in for `kubernetes.client.CustomObjectsApi` under a real `KServeClient`."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def _checked(self, body: Any) -> dict[str, Any]:
        from kubernetes.client import ApiClient

        sent = ApiClient().sanitize_for_serialization(body)
        check_against_model(sent, "V1beta1InferenceService", "InferenceService")
        return dict(sent)

    def create_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, body: Any
    ) -> dict[str, Any]:
        sent = self._checked(body)
        assert (group, plural) == ("serving.kserve.io", "inferenceservices")
        self.sent.append(("create", sent))
        stored = copy.deepcopy(sent) | {
            "status": {
                "conditions": [{"type": "Ready", "status": "True"}],
                "url": f"http://{sent['metadata']['name']}.{namespace}.example.com",
            }
        }
        self.objects[(namespace, sent["metadata"]["name"])] = stored
        return stored

    def patch_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str, body: Any
    ) -> dict[str, Any]:
        sent = self._checked(body)
        self.sent.append(("patch", sent))
        self.objects[(namespace, name)] |= {"spec": sent["spec"], "metadata": sent["metadata"]}
        return self.objects[(namespace, name)]

    def get_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any]:
        return self.objects[(namespace, name)]

    def delete_namespaced_custom_object(
        self, group: str, version: str, namespace: str, plural: str, name: str
    ) -> dict[str, Any]:
        self.sent.append(("delete", {"name": name}))
        return self.objects.pop((namespace, name))


def check_against_model(value: Any, type_name: str, where: str) -> None:
    """Every key of `value` is a field of the SDK model `type_name` (kserve's, or Kubernetes' V1…), recursively."""
    import kubernetes.client.models as kube_models

    import_kserve()
    import kserve.models as kserve_models

    check_sdk_model(value, type_name, where, kserve_models, kube_models)


def kserve_client(double: CustomObjectsDouble) -> Any:
    import_kserve()
    from kserve import KServeClient

    kubeconfig = {
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:1"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}],
        "users": [{"name": "test", "user": {"token": "t"}}],
    }  # fmt: skip
    client = KServeClient(config_dict=kubeconfig, persist_config=False)
    client.api_instance = double
    return client


@pytest.fixture(params=["local", "kserve"])
def target(request: pytest.FixtureRequest, served_workspace: ServedWorkspace, tmp_path: Any) -> Iterator[Any]:
    if request.param == "local":
        target: Any = LocalProcessTarget(served_workspace.workspace, drain_seconds=0.2)
    else:
        workspace = served_workspace.workspace
        target = KServeTarget(
            EndpointRegistry(tmp_path / "endpoints.db"), ModelRegistry(workspace.tracking_uri()), image="tessera/runtime@sha256:abc",
            tracking_uri="http://mlflow.tessera.svc:5000", client=kserve_client(CustomObjectsDouble()),
        )  # fmt: skip
    yield target
    target.delete("contract")


def test_every_target_keeps_the_endpoint_contract(target: Any) -> None:
    deployed = target.deploy(EndpointRequest(name="contract", model="cancer/1"))
    assert deployed.token and deployed.status == "serving"
    assert [(r.model_name, r.version, r.percent) for r in deployed.routes] == [("cancer", "1", 100)]
    with pytest.raises(EndpointError, match="already exists"):
        target.deploy(EndpointRequest(name="contract", model="cancer/2"))
    rotated = target.rotate_token("contract")
    assert rotated.token and rotated.token != deployed.token
    assert target.registry.get("contract").token_hash == token_hash(rotated.token)
    if target.kind == "local":  # the old token is refused as soon as rotate_token returns
        url = f"{deployed.url}/v2/models/contract"
        assert httpx.get(url, headers={"Authorization": f"Bearer {deployed.token}"}).status_code == 401
        assert httpx.get(url, headers={"Authorization": f"Bearer {rotated.token}"}).status_code == 200
    else:  # the pod's server reads the hash from its environment: the patch carries the new one
        kind, sent = target.client.api_instance.sent[-1]
        env = {e["name"]: e["value"] for e in sent["spec"]["predictor"]["containers"][0]["env"]}
        assert kind == "patch" and env["TESSERA_TOKEN_HASH"] == token_hash(rotated.token)

    canary = target.update(
        "contract", EndpointRequest(name="contract", model="cancer/1", canary="cancer/2", canary_percent=20)
    )
    assert [(r.version, r.percent) for r in canary.routes] == [("1", 80), ("2", 20)]
    assert [(r.version, r.percent) for r in target.promote("contract").routes] == [("2", 100)]
    with pytest.raises(EndpointError, match="no canary to promote"):
        target.promote("contract")
    target.update("contract", EndpointRequest(name="contract", model="cancer/2", canary="cancer/1", canary_percent=30))
    assert [(r.version, r.percent) for r in target.rollback("contract").routes] == [("2", 100)]

    assert "contract" in [e.name for e in target.list()]  # other tests' endpoints may share the registry
    with pytest.raises(EndpointError, match="no endpoint named 'contrat' \\(did you mean 'contract'"):
        target.status("contrat")
    target.delete("contract")
    target.delete("contract")
    assert "contract" not in [e.name for e in target.list()]


def test_kserve_objects_carry_image_resources_gpu_and_canary(served_workspace: ServedWorkspace, tmp_path: Any) -> None:
    double = CustomObjectsDouble()
    workspace = served_workspace.workspace
    target = KServeTarget(
        EndpointRegistry(tmp_path / "endpoints.db"), ModelRegistry(workspace.tracking_uri()), image="tessera/runtime@sha256:abc",
        tracking_uri="http://mlflow:5000", client=kserve_client(double),
    )  # fmt: skip
    target.deploy(
        EndpointRequest(
            name="gpu-api", model="cancer@champion", namespace="risk", resources={"cpu": "2", "memory": "4Gi", "gpu": 1}
        )
    )
    target.update(
        "gpu-api",
        EndpointRequest(name="gpu-api", model="cancer/1", canary="cancer/2", canary_percent=10, namespace="risk"),
    )
    (_, created), (_, patched) = double.sent
    container = created["spec"]["predictor"]["containers"][0]
    assert container["image"] == "tessera/runtime@sha256:abc"
    assert container["resources"]["limits"] == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert container["args"][:2] == ["--model", "cancer/1"] and created["metadata"]["namespace"] == "risk"
    assert patched["spec"]["predictor"]["canaryTrafficPercent"] == 10
    assert patched["spec"]["predictor"]["containers"][0]["args"][1] == "cancer/2"
    env = {e["name"]: e["value"] for e in patched["spec"]["predictor"]["containers"][0]["env"]}
    assert env["TESSERA_TOKEN_HASH"] == target.registry.get("gpu-api").token_hash != ""


def test_with_a_prediction_log_root_each_revision_logs_its_own_version_to_the_receiver(
    served_workspace: ServedWorkspace, tmp_path: Any
) -> None:
    from urllib.parse import parse_qs, urlparse

    double = CustomObjectsDouble()
    target = KServeTarget(
        EndpointRegistry(tmp_path / "endpoints.db"), ModelRegistry(served_workspace.workspace.tracking_uri()),
        image="img", tracking_uri="http://mlflow:5000", client=kserve_client(double), log_predictions=True,
    )  # fmt: skip
    target.deploy(EndpointRequest(name="logged-api", model="cancer/1", namespace="risk", log_sample_rate=0.25))
    target.update(
        "logged-api",
        EndpointRequest(name="logged-api", model="cancer/1", canary="cancer/2", canary_percent=10, namespace="risk"),
    )
    (_, created), (_, patched) = double.sent
    for sent, version, rate in ((created, "1", "0.25"), (patched, "2", "1.0")):
        logger = sent["spec"]["predictor"]["logger"]
        url = urlparse(logger["url"])
        assert logger["mode"] == "all" and url.netloc == "tessera-log-receiver.risk.svc.cluster.local"
        assert parse_qs(url.query) == {
            "endpoint": ["logged-api"], "model": ["cancer"], "version": [version], "sample": [rate]
        }  # fmt: skip
    silent = target.render(EndpointRequest(name="quiet", model="cancer/1", log_sample_rate=0))
    assert silent.spec.predictor.logger is None, "a sample rate of 0 logs nothing"


@pytest.fixture
def render_target(served_workspace: ServedWorkspace, tmp_path: Any) -> KServeTarget:
    """A KServe target for rendering InferenceServices (nothing is sent)."""
    registry = ModelRegistry(served_workspace.workspace.tracking_uri())
    return KServeTarget(EndpointRegistry(tmp_path / "e.db"), registry, "img", "http://mlflow:5000")


def test_mlserver_runtime_gets_a_storage_uri_resolved_from_the_alias(render_target: KServeTarget) -> None:
    request = EndpointRequest(name="ml", model="cancer@champion", runtime="mlserver")
    manifest = to_manifest(render_target.render(request))
    model = manifest["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "mlflow"} and model["protocolVersion"] == "v2"
    assert model["storageUri"].startswith("file://") or model["storageUri"].startswith("/")
    assert "mlartifacts" in model["storageUri"] or "mlruns" in model["storageUri"]


def test_tessera_runtime_names_the_serving_runtime_and_adds_the_endpoint_arguments(
    render_target: KServeTarget,
) -> None:
    from serving.kserve_target import MODEL_FORMAT, SERVING_RUNTIME

    request = EndpointRequest(name="rt", model="cancer@champion", runtime="tessera-runtime", namespace="risk-team")
    manifest = to_manifest(render_target.render(request, "t0ken"))
    check_against_model(manifest, "V1beta1InferenceService", "InferenceService")
    predictor = manifest["spec"]["predictor"]
    assert "containers" not in predictor, "the image comes from the ServingRuntime"
    model = predictor["model"]
    assert model["runtime"] == SERVING_RUNTIME and model["modelFormat"] == {"name": MODEL_FORMAT}
    assert model["args"][:4] == ["--standalone", "rt", "--model", "cancer/1"]
    env = {e["name"]: e["value"] for e in model["env"]}
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000" and env["TESSERA_TOKEN_HASH"] == token_hash("t0ken")


def test_the_model_check_catches_a_field_the_crd_does_not_have() -> None:
    sent = {"apiVersion": "serving.kserve.io/v1beta1", "spec": {"predictor": {"canaryPercent": 10}}}
    with pytest.raises(AssertionError, match="spec.predictor.canaryPercent is not a field of V1beta1PredictorSpec"):
        check_against_model(sent, "V1beta1InferenceService", "InferenceService")


class ConfigMapsDouble:
    """Stands in for `kubernetes.client.CoreV1Api`'s ConfigMap calls; every body checked against `V1ConfigMap`."""

    def __init__(self) -> None:
        self.maps: dict[tuple[str, str], dict[str, Any]] = {}

    def create_namespaced_config_map(self, namespace: str, body: Any) -> None:
        from kubernetes.client import ApiClient
        from kubernetes.client.exceptions import ApiException

        sent = ApiClient().sanitize_for_serialization(body)
        check_against_model(sent, "V1ConfigMap", "ConfigMap")
        if (namespace, sent["metadata"]["name"]) in self.maps:
            raise ApiException(status=409, reason="AlreadyExists")
        self.maps[(namespace, sent["metadata"]["name"])] = sent

    def replace_namespaced_config_map(self, name: str, namespace: str, body: Any) -> None:
        from kubernetes.client import ApiClient

        self.maps[(namespace, name)] = ApiClient().sanitize_for_serialization(body)


def test_scoring_by_id_on_a_cluster_mounts_the_feature_repo(served_workspace: ServedWorkspace, tmp_path: Any) -> None:
    import shutil

    from serving.endpoints import FeatureLookup
    from studio.demo import DEMO_WORKSPACE

    repo = tmp_path / "features"
    shutil.copytree(DEMO_WORKSPACE / "projects/risk/features", repo, ignore=shutil.ignore_patterns("data"))
    client = kserve_client(CustomObjectsDouble())
    client.core_api = ConfigMapsDouble()
    target = KServeTarget(
        EndpointRegistry(tmp_path / "endpoints.db"), ModelRegistry(served_workspace.workspace.tracking_uri()),
        image="tessera/runtime@sha256:abc", tracking_uri="http://mlflow:5000", client=client, workspace_root=tmp_path,
    )  # fmt: skip
    request = EndpointRequest(
        name="by-id", model="cancer/1", features=FeatureLookup(repo="features", views=("player_activity",))
    )
    with pytest.raises(EndpointError, match="SQLite file here \\(use Redis.*registry is a file here"):
        target.deploy(request)  # the demo's repo keeps its store in files on this machine: a pod cannot read them
    assert not target.registry.exists("by-id") and not client.core_api.maps

    config = repo / "feature_store.yaml"
    config.write_text(
        config.read_text()
        .replace("registry: data/registry.db", "registry:\n  registry_type: sql\n  path: postgresql://feast@db/feast")
        .replace("  type: sqlite\n  path: data/online_store.db", '  type: redis\n  connection_string: "redis:6379"')
    )
    target.deploy(request)
    target.deploy(request.model_copy(update={"name": "by-id-2"}))
    stored = client.core_api.maps[("default", "by-id-feature-repo")]
    assert sorted(stored["data"]) == ["feature_store.yaml", "players.py"]
    _, service = client.api_instance.sent[0]
    container = service["spec"]["predictor"]["containers"][0]
    assert container["args"][-4:] == [
        "--features",
        "/etc/tessera/feature-repo:player_activity",
        "--entity",
        "player_id",
    ]
    assert container["volumeMounts"] == [
        {"mountPath": "/etc/tessera/feature-repo", "name": "feature-repo", "readOnly": True}
    ]
    assert service["spec"]["predictor"]["volumes"] == [
        {"configMap": {"name": "by-id-feature-repo"}, "name": "feature-repo"}
    ]
    target.update("by-id", request.model_copy(update={"model": "cancer/2"}))  # the ConfigMap is replaced, not refused
    with pytest.raises(EndpointError, match="scoring by id runs in Tessera's server"):
        target.deploy(request.model_copy(update={"name": "by-id-3", "runtime": "mlserver"}))


def test_predictor_pods_use_the_serving_image_when_the_workspace_names_one(served_workspace: ServedWorkspace) -> None:
    from serving.targets import kserve_target
    from tessera.workspace import Workspace

    workspace = served_workspace.workspace
    slim = Workspace(
        workspace.root, workspace.config.model_copy(update={"serving_image": "registry/tessera/serve@sha256:1"})
    )
    assert kserve_target(slim, client=object()).image == "registry/tessera/serve@sha256:1"
    assert kserve_target(workspace, client=object()).image == workspace.config.runtime_image
