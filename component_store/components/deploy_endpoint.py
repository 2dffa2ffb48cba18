from typing import Annotated, Literal

from kfp.dsl import Artifact, Input, Output

from component_store.decorator import component


@component(
    name="deploy_endpoint", version="1.1.0", category="deploy", tags=["serving", "endpoint", "kserve", "rest"],
    owner="platform",
)  # fmt: skip
def deploy_endpoint(
    registered: Input[Artifact],
    endpoint: Output[Artifact],
    endpoint_name: str,
    alias: str = "champion",
    canary_percent: Annotated[int, (0, 99)] = 0,
    target: Literal["local", "kserve"] = "local",
    namespace: str = "default",
    max_batch_rows: Annotated[int, (1, 1000000)] = 10000,
    features: str = "",
    entity: str = "player_id",
):
    """Serve a registered model as a REST endpoint: deploy it, or move the endpoint to it.

    Running the workflow again moves the same endpoint (hot swap, no failed requests)
    instead of failing because it exists. A new endpoint's bearer token is written once to
    `.tessera/endpoints/NAME.token` in the workspace (readable by you only); issue another
    with `tessera endpoint token NAME`.

    Args:
        registered: the registered model (register_model's output).
        endpoint: the endpoint's name, URL, target and the versions it serves, with their share.
        endpoint_name: the endpoint's name (lower-case letters, digits, '-'), e.g. cheater-api.
        alias: serve MODEL@ALIAS, followed when the alias moves (champion: the gate-approved best); empty pins the registered version.
        canary_percent: above 0, an existing endpoint keeps what it serves and sends this share of requests to the registered version.
        target: local runs a model-server process on this machine; kserve creates an InferenceService on the current cluster.
        namespace: Kubernetes namespace (kserve only).
        max_batch_rows: the largest batch a request may carry (413 above).
        features: score by id: REPO:VIEW[,VIEW…], e.g. projects/risk/features:player_activity; requests then carry the id and the model's other columns are read from the feature store. Empty: requests carry every column.
        entity: with features, the id column requests carry.
    """
    import json

    from serving.endpoints import EndpointRequest, FeatureLookup
    from serving.targets import apply, local_target, save_token
    from tessera.workspace import find_workspace

    info = registered.metadata
    pinned = f"{info['name']}/{info['version']}"
    workspace = find_workspace()
    fields = {
        "name": endpoint_name, "model": f"{info['name']}@{alias}" if alias else pinned,
        "max_batch_rows": max_batch_rows, "namespace": namespace,
        "features": FeatureLookup.parse(features, entity) if features else None,
    }  # fmt: skip
    registry = local_target(workspace).registry
    if canary_percent and registry.exists(endpoint_name):
        current = registry.get(endpoint_name).request
        fields |= {"model": current.model, "canary": pinned, "canary_percent": canary_percent}
    served, created = apply(workspace, EndpointRequest.model_validate(fields), target)
    if created and served.token:
        print(f"endpoint {endpoint_name}: bearer token written to {save_token(workspace, endpoint_name, served.token)}")
    summary = {
        "name": served.name,
        "url": served.url,
        "target": served.target,
        "status": served.status,
        "created": created,
        "routes": [{"model": r.model_name, "version": r.version, "percent": r.percent} for r in served.routes],
        "scored_by": entity if features else "",
    }
    print(f"endpoint {endpoint_name} {'deployed' if created else 'moved'}: {served.version_summary()} at {served.url}")
    with open(endpoint.path, "w") as handle:
        json.dump(summary, handle)
    endpoint.metadata.update(summary)
