"""`tessera models …` on a workspace whose registry holds two versions."""

from pathlib import Path

import pytest
from kfp.dsl import Artifact, ClassificationMetrics, Metrics, Model

from component_store.components.evaluate_classifier import evaluate_classifier
from component_store.components.register_model import register_model
from component_store.components.train_classifier import train_classifier
from tests.studio.test_cli import tessera


@pytest.fixture
def registry_workspace(tmp_path: Path, monkeypatch, cancer_split, output) -> Path:
    assert tessera("init", "ws", cwd=tmp_path).returncode == 0
    workspace = tmp_path / "ws"
    uri = f"sqlite:///{workspace / '.tessera' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("TESSERA_MLFLOW_ARTIFACTS", (workspace / ".tessera" / "mlartifacts").as_uri())
    monkeypatch.setenv("TESSERA_WORKFLOW", "risk/cancer")
    import mlflow

    mlflow.set_tracking_uri(uri)
    for name, family in (("a", "logistic"), ("b", "random_forest")):
        model = output(name, Model)
        train_classifier(
            train=cancer_split[0],
            model=model,
            metrics=output(f"{name}m", Metrics),
            label="target",
            family=family,
            n_estimators=20,
        )
        metrics = output(f"{name}e", Metrics)
        evaluate_classifier(
            model=model, test=cancer_split[1], metrics=metrics, curves=output(f"{name}c", ClassificationMetrics)
        )
        register_model(model=model, metrics=metrics, registered=output(f"{name}r", Artifact), model_name="cancer")
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    return workspace


def test_models_list_show_promote_rollback(registry_workspace: Path):
    listed = tessera("models", "list", cwd=registry_workspace)
    assert listed.returncode == 0, listed.stderr
    assert "cancer" in listed.stdout and "champion → v1" in listed.stdout and "challenger → v2" in listed.stdout
    shown = tessera("models", "show", "cancer", cwd=registry_workspace)
    assert "v2" in shown.stdout and "roc_auc 0.9" in shown.stdout and "risk/cancer" in shown.stdout
    promoted = tessera("models", "promote", "cancer", "2", "--alias", "champion", cwd=registry_workspace)
    assert "cancer@champion → v2" in promoted.stdout
    rolled = tessera("models", "rollback", "cancer", "--alias", "champion", cwd=registry_workspace)
    assert "rolled back to v1" in rolled.stdout
    again = tessera("models", "rollback", "cancer", "--alias", "champion", cwd=registry_workspace)
    assert again.returncode == 2 and "no earlier version" in again.stderr
    missing = tessera("models", "show", "cancr", cwd=registry_workspace)
    assert missing.returncode == 2 and "did you mean 'cancer'" in missing.stderr


def test_mlflow_ui_serves_the_workspace_store(tmp_path: Path):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    assert tessera("init", "ws", cwd=tmp_path).returncode == 0
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "mlflow-ui", "--port", str(port)],
        cwd=tmp_path / "ws",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("MLflow UI did not answer within 60 s")
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search?max_results=5", timeout=5
        ) as response:
            assert b"experiments" in response.read()
    finally:
        import os
        import signal

        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
    assert (tmp_path / "ws" / ".tessera" / "mlflow.db").exists()
