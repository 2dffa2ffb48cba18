"""The KServe endpoint target: an endpoint is an `InferenceService` in a namespace.

Default runtime `tessera`: a custom predictor container running this same model server
(`python -m serving.model_server --standalone ...`) from the runtime image, so auth, validation
and the fast path behave on the cluster as they do locally. Runtime `tessera-runtime`: the same
server, from the `tessera-predictor` ServingRuntime the platform team installs with the
manifests (the InferenceService names the model format and adds the endpoint's arguments; the
image is the runtime's). Runtime `mlserver`: KServe's
MLServer with `modelFormat: mlflow`, protocol v2 and a `storageUri` resolved from the alias to
the version's artifact location (KServe does not understand `models:/` URIs).

Score by id (`--features REPO:VIEW --entity KEY`) runs inside the predictor, as locally: the repo's
definitions (feature_store.yaml and its Python files) go into a ConfigMap `NAME-feature-repo` mounted
at /etc/tessera/feature-repo. Its registry and online store must be reachable from the pod (a SQL or
S3 registry, Redis): a repo on this machine's SQLite files is refused with that fix.

With `prediction_log:` set in tessera.yaml, an InferenceService gets KServe's `logger` pointed at the
namespace's Tessera log receiver (serving/log_receiver.py, manifests/base/log-receiver.yaml), its URL
naming the endpoint, the model version and the endpoint's sample rate.

A canary uses KServe's own mechanism: the predictor is patched to the canary version with
`canaryTrafficPercent`, and KServe keeps the previous revision serving the rest. Objects are
built from the kserve SDK's models; what is sent goes through `KServeClient`, whose Kubernetes
API object is the seam the tests replace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from serving.endpoint_registry import EndpointRecord, EndpointRegistry
from serving.endpoints import Endpoint, EndpointError, EndpointFailed, EndpointRequest, Route
from serving.model_registry import ModelRegistry
from serving.serving_tags import sync_endpoint_tags
from serving.tokens import new_token, token_hash
from serving.traffic import resolve_routes

ROUTES_ANNOTATION = "tessera.io/routes"
SERVER_PORT = 8080
# The ServingRuntime that manifests/base/serving-runtime.yaml installs in a project namespace.
SERVING_RUNTIME = "tessera-predictor"
MODEL_FORMAT = "tessera"
FEATURE_REPO_MOUNT = "/etc/tessera/feature-repo"
FEATURE_REPO_VOLUME = "feature-repo"
LOG_RECEIVER = "tessera-log-receiver"  # the Service of manifests/base/log-receiver.yaml


def log_receiver_url(request: EndpointRequest, model_name: str, version: str) -> str:
    """Where an InferenceService's logger sends its CloudEvents, with what the events do not carry."""
    from urllib.parse import urlencode

    query = urlencode(
        {"endpoint": request.name, "model": model_name, "version": version, "sample": request.log_sample_rate}
    )
    return f"http://{LOG_RECEIVER}.{request.namespace}.svc.cluster.local/?{query}"


def build_inference_service(
    request: EndpointRequest,
    routes: list[Route],
    image: str,
    tracking_uri: str,
    token_digest: str,
    storage_uri: str = "",
    log_predictions: bool = False,
) -> Any:
    """The `V1beta1InferenceService` for an endpoint serving `routes` (the last one is the canary, if any);
    with `log_predictions` (and a sample rate above 0), its predictor logs to the log receiver."""
    from kserve import (
        V1beta1InferenceService,
        V1beta1InferenceServiceSpec,
        V1beta1LoggerSpec,
        V1beta1ModelFormat,
        V1beta1ModelSpec,
        V1beta1PredictorSpec,
        constants,
    )
    from kubernetes.client import V1Container, V1ContainerPort, V1ObjectMeta, V1ResourceRequirements

    resources = _resources(request)
    serving = routes[-1]  # KServe rolls the newest revision out to canaryTrafficPercent of requests
    canary_percent = request.canary_percent if request.canary is not None else None
    if request.runtime == "mlserver":
        predictor = V1beta1PredictorSpec(
            canary_traffic_percent=canary_percent,
            model=V1beta1ModelSpec(
                model_format=V1beta1ModelFormat(name="mlflow"), protocol_version="v2",
                storage_uri=storage_uri, resources=V1ResourceRequirements(**resources),
            ),
        )  # fmt: skip
    elif request.runtime == "tessera-runtime":
        predictor = V1beta1PredictorSpec(
            canary_traffic_percent=canary_percent,
            model=V1beta1ModelSpec(
                model_format=V1beta1ModelFormat(name=MODEL_FORMAT), runtime=SERVING_RUNTIME,
                args=["--standalone", request.name, "--model", f"{serving.model_name}/{serving.version}",
                      "--max-batch-rows", str(request.max_batch_rows), *_compile_flag(request), *_feature_args(request)],
                env=_server_env(tracking_uri, token_digest), resources=V1ResourceRequirements(**resources),
                volume_mounts=_feature_mounts(request),
            ),
            volumes=_feature_volumes(request),
        )  # fmt: skip
    else:
        predictor = V1beta1PredictorSpec(
            canary_traffic_percent=canary_percent,
            containers=[
                V1Container(
                    name="kserve-container",
                    image=image,
                    command=["python", "-m", "serving.model_server", "--standalone", request.name],
                    args=[
                        "--model",
                        f"{serving.model_name}/{serving.version}",
                        "--host",
                        "0.0.0.0",  # noqa: S104 (in a pod, behind the cluster network)
                        "--port",
                        str(SERVER_PORT),
                        "--max-batch-rows",
                        str(request.max_batch_rows),
                        *_compile_flag(request),
                        *_feature_args(request),
                    ],  # fmt: skip
                    env=_server_env(tracking_uri, token_digest),
                    ports=[V1ContainerPort(container_port=SERVER_PORT, protocol="TCP")],
                    resources=V1ResourceRequirements(**resources),
                    volume_mounts=_feature_mounts(request),
                )
            ],
            volumes=_feature_volumes(request),
        )
    if log_predictions and request.log_sample_rate > 0:
        predictor.logger = V1beta1LoggerSpec(
            mode="all", url=log_receiver_url(request, serving.model_name, serving.version)
        )
    annotations = {ROUTES_ANNOTATION: json.dumps([r.model_dump() for r in routes])}
    return V1beta1InferenceService(
        api_version=f"{constants.KSERVE_GROUP}/{constants.KSERVE_V1BETA1_VERSION}",
        kind=constants.KSERVE_KIND_INFERENCESERVICE,
        metadata=V1ObjectMeta(
            name=request.name,
            namespace=request.namespace,
            annotations=annotations,
            labels={"app.kubernetes.io/managed-by": "tessera", "tessera.io/model": _label(serving.model_name)},
        ),  # fmt: skip
        spec=V1beta1InferenceServiceSpec(predictor=predictor),
    )


def feature_repo_config_map(request: EndpointRequest, repo: Path) -> Any:
    """The ConfigMap holding a feature repo's definitions for the endpoint's pods."""
    from kubernetes.client import V1ConfigMap, V1ObjectMeta

    files = {
        path.name: path.read_text()
        for path in sorted(repo.iterdir())
        if path.is_file() and path.suffix in (".yaml", ".yml", ".py")
    }
    return V1ConfigMap(
        api_version="v1", kind="ConfigMap", data=files,
        metadata=V1ObjectMeta(
            name=f"{request.name}-feature-repo", namespace=request.namespace,
            labels={"app.kubernetes.io/managed-by": "tessera"},
        ),
    )  # fmt: skip


def cluster_readiness(repo: Path) -> list[str]:
    """What in a feature repo's configuration a pod could not reach (files on this machine)."""
    import yaml

    config = yaml.safe_load((repo / "feature_store.yaml").read_text()) or {}
    problems = []
    online = config.get("online_store") or {"type": "sqlite"}
    if (online.get("type") if isinstance(online, dict) else online) == "sqlite":
        problems.append("its online store is a SQLite file here (use Redis: online_store: {type: redis, ...})")
    registry = config.get("registry")
    path = registry.get("path", "") if isinstance(registry, dict) else str(registry or "")
    if isinstance(registry, dict) and registry.get("registry_type") == "sql" or "://" in path:
        return problems
    problems.append("its registry is a file here (use a SQL or S3 registry)")
    return problems


def _feature_args(request: EndpointRequest) -> list[str]:
    lookup = request.features
    if lookup is None:
        return []
    return ["--features", f"{FEATURE_REPO_MOUNT}:{','.join(lookup.views)}", "--entity", lookup.entity]


def _feature_mounts(request: EndpointRequest) -> list[Any] | None:
    from kubernetes.client import V1VolumeMount

    if request.features is None:
        return None
    return [V1VolumeMount(name=FEATURE_REPO_VOLUME, mount_path=FEATURE_REPO_MOUNT, read_only=True)]


def _feature_volumes(request: EndpointRequest) -> list[Any] | None:
    from kubernetes.client import V1ConfigMapVolumeSource, V1Volume

    if request.features is None:
        return None
    source = V1ConfigMapVolumeSource(name=f"{request.name}-feature-repo")
    return [V1Volume(name=FEATURE_REPO_VOLUME, config_map=source)]


def to_manifest(inference_service: Any) -> dict[str, Any]:
    """The JSON-ready dict the Kubernetes client sends (camelCase keys, no nulls)."""
    from kubernetes.client import ApiClient

    return dict(ApiClient().sanitize_for_serialization(inference_service))


def _server_env(tracking_uri: str, token_digest: str) -> list[Any]:
    from kubernetes.client import V1EnvVar

    return [
        V1EnvVar(name="MLFLOW_TRACKING_URI", value=tracking_uri),
        V1EnvVar(name="TESSERA_TOKEN_HASH", value=token_digest),
        V1EnvVar(name="MLFLOW_DISABLE_TELEMETRY", value="true"),
    ]


def _resources(request: EndpointRequest) -> dict[str, dict[str, str]]:
    amounts = {"cpu": request.resources.cpu, "memory": request.resources.memory}
    if request.resources.gpu:
        amounts["nvidia.com/gpu"] = str(request.resources.gpu)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _label(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)[:63].strip("-_.") or "model"


class KServeTarget:
    """Endpoints as InferenceServices (see `EndpointTarget`); recorded in the workspace registry too."""

    kind = "kserve"

    def __init__(
        self, registry: EndpointRegistry, models: ModelRegistry, image: str, tracking_uri: str, client: Any = None,
        workspace_root: Path | None = None, log_predictions: bool = False,
    ):  # fmt: skip
        self.registry = registry
        self.log_predictions = log_predictions
        self.workspace_root = workspace_root or Path.cwd()  # where a relative feature repo is
        self.models = models
        self.image = image
        self.tracking_uri = tracking_uri
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            from serving.model_server import import_kserve

            import_kserve()
            from kserve import KServeClient

            try:
                self._client = KServeClient()
            except Exception as exc:
                raise EndpointError(
                    f"cannot reach a Kubernetes cluster ({exc}); set KUBECONFIG or run inside the cluster, "
                    "or use --dry-run to print the InferenceService"
                ) from exc
        return self._client

    def render(self, request: EndpointRequest, token: str = "") -> Any:
        """The InferenceService that `deploy` would send (for `--dry-run`)."""
        routes = resolve_routes(self.models, request)
        storage = (
            self.models.artifact_uri(routes[-1].model_name, routes[-1].version) if request.runtime == "mlserver" else ""
        )
        return build_inference_service(
            request,
            routes,
            self.image,
            self.tracking_uri,
            token_hash(token) if token else "",
            storage,
            self.log_predictions,
        )

    def feature_repo(self, request: EndpointRequest) -> Any:
        """The ConfigMap of the request's feature repo (None without `features`); refused for a repo a pod cannot use."""
        if request.features is None:
            return None
        if request.runtime == "mlserver":
            raise EndpointError("scoring by id runs in Tessera's server: use --runtime tessera or tessera-runtime")
        from serving.online_features import resolve_repo

        repo = resolve_repo(self.workspace_root / request.features.repo)
        problems = cluster_readiness(repo)
        if problems:
            raise EndpointError(
                f"the feature repo {request.features.repo} cannot serve a cluster: {'; '.join(problems)}"
            )
        return feature_repo_config_map(request, repo)

    def deploy(self, request: EndpointRequest) -> Endpoint:
        if self.registry.exists(request.name):
            raise EndpointError(
                f"endpoint '{request.name}' already exists: use `tessera endpoint update {request.name}`"
            )
        token = new_token()
        service = self.render(request, token)
        self._apply_config_map(self.feature_repo(request))
        self._call("create", service, namespace=request.namespace)
        record = EndpointRecord(
            name=request.name, target=self.kind, request=request, status="serving", token_hash=token_hash(token),
            url=f"http://{request.name}.{request.namespace}.svc.cluster.local",
        )  # fmt: skip
        self.registry.create(record)
        self._served(request, service)
        return self.status(request.name).model_copy(update={"token": token})

    def update(self, name: str, request: EndpointRequest, event: str = "updated") -> Endpoint:
        record = self.registry.get(name)
        service = self.render(request, "")
        if service.spec.predictor.containers:
            _keep_token(service, record.token_hash)
        self._apply_config_map(self.feature_repo(request))
        self._call("patch", name, service, namespace=request.namespace)
        self.registry.set_request(name, request, event)
        self._served(request, service)
        return self.status(name)

    def promote(self, name: str) -> Endpoint:
        request = self.registry.get(name).request
        if request.canary is None:
            raise EndpointError(f"endpoint '{name}' has no canary to promote; add one with --canary MODEL/VERSION")
        return self.update(
            name, request.model_copy(update={"model": request.canary, "canary": None, "canary_percent": 0}), "promoted"
        )

    def rollback(self, name: str) -> Endpoint:
        request = self.registry.get(name).request
        if request.canary is None:
            raise EndpointError(f"endpoint '{name}' has no canary; to go back, `update` it to the version you want")
        return self.update(name, request.model_copy(update={"canary": None, "canary_percent": 0}), "rolled back")

    def rotate_token(self, name: str) -> Endpoint:
        record = self.registry.get(name)
        if record.request.runtime == "mlserver":
            raise EndpointError(
                f"endpoint '{name}' runs MLServer, which has no Tessera token: protect it at the cluster's ingress"
            )
        token = new_token()
        service = self.render(record.request, token)
        self._call("patch", name, service, namespace=record.request.namespace)
        self.registry.set_fields(name, token_hash=token_hash(token))
        self.registry.log(name, "token rotated", {})
        return self.status(name).model_copy(update={"token": token})

    def status(self, name: str) -> Endpoint:
        record = self.registry.get(name)
        found = self._call("get", name, namespace=record.request.namespace)
        conditions = (found.get("status") or {}).get("conditions") or []
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)
        url = (found.get("status") or {}).get("url") or record.url
        return Endpoint(
            name=name, target=self.kind, status="serving" if ready else "not ready", url=url,
            request=record.request, routes=record.served,
        )  # fmt: skip

    def list(self) -> list[Endpoint]:
        return [self.status(r.name) for r in self.registry.all() if r.target == self.kind]

    def delete(self, name: str) -> None:
        if not self.registry.exists(name):
            return
        record = self.registry.get(name)
        self._call("delete", name, namespace=record.request.namespace)
        self.registry.delete(name)
        sync_endpoint_tags(self.models.client, self.registry.all(), also_models={r.model_name for r in record.served})

    def _served(self, request: EndpointRequest, service: Any) -> None:
        routes = [Route(**r) for r in json.loads(service.metadata.annotations[ROUTES_ANNOTATION])]
        record = self.registry.get(request.name)
        self.registry.record_served(request.name, routes, record.revision)
        sync_endpoint_tags(self.models.client, self.registry.all(), also_models={r.model_name for r in record.served})

    def _apply_config_map(self, config_map: Any) -> None:
        """Create the ConfigMap, or replace the one of that name."""
        if config_map is None:
            return
        from kubernetes.client.exceptions import ApiException

        core = self.client.core_api
        namespace, name = config_map.metadata.namespace, config_map.metadata.name
        try:
            core.create_namespaced_config_map(namespace, config_map)
        except ApiException as exc:
            if exc.status != 409:
                raise EndpointFailed(f"the cluster refused the ConfigMap {name}: {exc.reason}") from exc
            core.replace_namespaced_config_map(name, namespace, config_map)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except RuntimeError as exc:  # KServeClient wraps the API's errors in RuntimeError
            raise EndpointFailed(f"the cluster refused to {method} the InferenceService: {exc}") from exc


def _keep_token(service: Any, digest: str) -> None:
    for variable in service.spec.predictor.containers[0].env:
        if variable.name == "TESSERA_TOKEN_HASH":
            variable.value = digest


def _compile_flag(request: EndpointRequest) -> list[str]:
    return [] if request.compiled else ["--no-compiled"]
