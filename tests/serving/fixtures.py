"""Serving fixtures (a plugin of tests/conftest.py): two registered versions of a breast-cancer classifier, and live endpoints."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from serving.endpoints import Endpoint, EndpointRequest
from serving.local_target import LocalProcessTarget
from tessera.workspace import Workspace, init_workspace

MODEL = "cancer"


@dataclass(frozen=True)
class ServedWorkspace:
    workspace: Workspace
    columns: list[str]
    rows: list[list[float]]  # held-out rows, in signature order
    labels: list[int]


def register_cancer_versions(workspace: Workspace) -> tuple[list[str], list[list[float]], list[int]]:
    """Two versions of `cancer` (v1 strongly regularised, v2 not), alias `champion` -> 1."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlflow.set_tracking_uri(workspace.tracking_uri())
    # MLflow remembers the active experiment per process; an earlier test's id means nothing in this store
    experiment_id = mlflow.set_experiment("serving-fixture").experiment_id
    frame = load_breast_cancer(as_frame=True).frame
    features = frame.drop(columns="target")
    train_x, test_x, train_y, test_y = train_test_split(features, frame["target"], test_size=0.2, random_state=0)
    for strength in (0.001, 1.0):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=500)).fit(train_x, train_y)
        with mlflow.start_run(experiment_id=experiment_id):
            mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(train_x.head(50), model.predict(train_x.head(50))),
                registered_model_name=MODEL, pip_requirements=["scikit-learn"], input_example=train_x.head(5),
            )  # fmt: skip
    mlflow.MlflowClient().set_registered_model_alias(MODEL, "champion", "1")
    return list(features.columns), test_x.to_numpy().tolist(), test_y.tolist()


@pytest.fixture(scope="session")
def served_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedWorkspace]:
    root = tmp_path_factory.mktemp("served")
    workspace = init_workspace(root, name="served")
    environment = workspace.component_environment()
    environment.pop("TESSERA_HOME")  # CLI tests elsewhere find their workspace from their folder
    saved = {k: os.environ.get(k) for k in environment}
    os.environ.update(environment)
    columns, rows, labels = register_cancer_versions(workspace)
    yield ServedWorkspace(workspace, columns, rows, labels)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def local_target(served_workspace: ServedWorkspace) -> LocalProcessTarget:
    return LocalProcessTarget(served_workspace.workspace, drain_seconds=0.5)


@pytest.fixture(scope="session")
def live_endpoint(local_target: LocalProcessTarget) -> Iterator[Endpoint]:
    """`cancer-api` serving cancer@champion, shared by the read-only HTTP tests."""
    endpoint = local_target.deploy(EndpointRequest(name="cancer-api", model=f"{MODEL}@champion", max_batch_rows=500))
    yield endpoint
    local_target.delete("cancer-api")


def wait_for_rows(folder: Any, rows: int, timeout: float = 30) -> Any:
    """The prediction log at `folder` (a path or a URL) once it holds `rows` rows; fails the test after `timeout`."""
    import time

    from serving.monitoring import read_log

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logged = read_log(folder, 0)
        if len(logged) >= rows:
            return logged
        time.sleep(0.2)
    pytest.fail(f"the prediction log at {folder} has {len(read_log(folder, 0))} rows, not {rows}")
