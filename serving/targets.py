"""Which endpoint target to use, built from a workspace, for the CLI, the studio and components.

`apply` is the one "make this endpoint serve that" verb: it deploys a new endpoint or moves
an existing one, so a workflow that ends in `deploy_endpoint` can run again and again.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from serving.endpoint_registry import EndpointRegistry
from serving.endpoints import Endpoint, EndpointError, EndpointRequest, EndpointTarget
from serving.kserve_target import KServeTarget
from serving.local_target import LocalProcessTarget
from serving.model_registry import ModelRegistry
from tessera.workspace import Workspace

TargetKind = Literal["local", "kserve"]
TARGET_KINDS: tuple[TargetKind, ...] = ("local", "kserve")


def local_target(workspace: Workspace) -> LocalProcessTarget:
    workspace.state_dir.mkdir(exist_ok=True)
    return LocalProcessTarget(workspace)


def kserve_target(workspace: Workspace, client: Any = None) -> KServeTarget:
    """KServe on the cluster of the current kube context (`client` replaces KServeClient in tests)."""
    workspace.state_dir.mkdir(exist_ok=True)
    return KServeTarget(
        EndpointRegistry(workspace.state_dir / "endpoints.db"), ModelRegistry.of_workspace(workspace),
        image=workspace.config.serving_image or workspace.config.runtime_image, tracking_uri=workspace.tracking_uri(), client=client,
        workspace_root=workspace.root, log_predictions=bool(workspace.config.prediction_log),
    )  # fmt: skip


def target_for(workspace: Workspace, kind: str, local: LocalProcessTarget | None = None) -> EndpointTarget:
    if kind == "local":
        return local or local_target(workspace)
    if kind == "kserve":
        return kserve_target(workspace)
    raise EndpointError(f"target '{kind}' is not one of {', '.join(map(repr, TARGET_KINDS))}")


def target_of(workspace: Workspace, name: str) -> EndpointTarget:
    """The target that holds endpoint `name`, as recorded when it was deployed."""
    local = local_target(workspace)
    return target_for(workspace, local.registry.get(name).target, local)


def apply(workspace: Workspace, request: EndpointRequest, kind: str = "local") -> tuple[Endpoint, bool]:
    """Deploy `request`, or move the endpoint of that name to it; returns (endpoint, created).

    Only a newly created endpoint carries a `token`; an existing one keeps its token.
    """
    local = local_target(workspace)
    if not local.registry.exists(request.name):
        return target_for(workspace, kind, local).deploy(request), True
    recorded = local.registry.get(request.name).target
    if recorded != kind:
        raise EndpointError(
            f"endpoint '{request.name}' runs on the {recorded} target, not {kind}: "
            f"pick another name, or delete it first with `tessera endpoint delete {request.name}`"
        )
    if kind == "local" and local.status(request.name).status != "serving":
        local.update(request.name, request)  # a stopped endpoint takes the request when it starts
        return local.start(request.name), False
    return target_for(workspace, kind, local).update(request.name, request), False


def save_token(workspace: Workspace, name: str, token: str) -> Path:
    """Keep an endpoint's token where only its owner can read it (for tokens no person saw printed)."""
    path = workspace.state_dir / "endpoints" / f"{name}.token"
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    return path
