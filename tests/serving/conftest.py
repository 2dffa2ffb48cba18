"""Serving tests read the served workspace's MLflow store with plain MlflowClient() / pyfunc calls."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _mlflow_on_the_served_store(request: pytest.FixtureRequest) -> None:
    """MLflow's tracking URI is process-wide, and in-process component tests move it: point it back."""
    if "served_workspace" not in request.fixturenames:
        return
    import mlflow

    mlflow.set_tracking_uri(request.getfixturevalue("served_workspace").workspace.tracking_uri())
