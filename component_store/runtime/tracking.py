"""MLflow for components: where to track, which experiment, and the lineage tags.

The local runner passes the workspace's settings in the environment
(`MLFLOW_TRACKING_URI`, `TESSERA_MLFLOW_ARTIFACTS`) and the node's identity
(`TESSERA_WORKFLOW`, `TESSERA_RUN_ID`, `TESSERA_NODE`, `TESSERA_COMPONENT`,
`TESSERA_PARAMS_DIGEST`); on Kubeflow the compiled tasks carry the same variables
(`pipelines.kubeflow_runner.task_environment`), all but the params digest.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

LINEAGE_KEYS = {
    "tessera.workflow": "TESSERA_WORKFLOW",
    "tessera.run_id": "TESSERA_RUN_ID",
    "tessera.node": "TESSERA_NODE",
    "tessera.component": "TESSERA_COMPONENT",
    "tessera.params_digest": "TESSERA_PARAMS_DIGEST",
}


def start_tracking(
    tracking_uri: str | None = None, experiment_name: str | None = None, artifacts: str | None = None
) -> str:
    """Point MLflow at the workspace and select the workflow's experiment; returns its id.

    The experiment is named after the workflow (`project/name`); for a file-based
    store it keeps artifacts under the workspace's `.tessera/mlartifacts`. Inside a node the
    three come from the environment the runner sets; the SDK passes them.
    """
    import mlflow

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    tracking_uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    name = experiment_name or os.environ.get("TESSERA_WORKFLOW", "tessera/ad-hoc")
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        experiment_id: str = experiment.experiment_id
    else:
        artifacts = artifacts or os.environ.get("TESSERA_MLFLOW_ARTIFACTS")
        location = f"{artifacts.rstrip('/')}/{name.replace('/', '__')}" if artifacts else None
        try:
            experiment_id = mlflow.create_experiment(name, artifact_location=location)
        except mlflow.exceptions.MlflowException:  # created meanwhile by a parallel node
            experiment_id = mlflow.get_experiment_by_name(name).experiment_id  # type: ignore[union-attr]
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def lineage_tags(data_fingerprint: str | None = None) -> dict[str, str]:
    """The `tessera.*` tags that tie an MLflow run or model version to its workflow run and node."""
    tags = {tag: os.environ[env] for tag, env in LINEAGE_KEYS.items() if os.environ.get(env)}
    if data_fingerprint:
        tags["tessera.data_fingerprint"] = data_fingerprint
    return tags


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes (a Dataset's Parquet file), shortened to 16 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def fingerprint_of(*parts: Any) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
