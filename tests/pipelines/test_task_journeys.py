"""Beyond the demo's binary label: a multiclass and a regression task through the whole journey —
tune, evaluate, champion gate, register, serve, call over HTTP — in the local runner, on a fresh workspace."""

from __future__ import annotations

from pathlib import Path

import httpx
import numpy as np
import pytest

from pipelines.local_runner import LocalRunner
from pipelines.runner import RunOptions
from pipelines.workflow_io import parse_workflow
from tessera.workspace import Workspace, init_workspace

JOURNEY = """name: {name}
project: tasks
nodes:
- id: data
  component: sample_dataset@1.0.0
  params: {{dataset: {dataset}}}
- id: split
  component: train_test_split@1.0.0
  params: {{label: target, stratify: {stratify}}}
  inputs: {{table: data.table}}
- id: tune
  component: tune_optuna@1.0.0
  params: {{label: target, task: {task}, family: hist_gradient_boosting, metric: {metric}, n_trials: 2, cv_folds: 2,
           search_space: {{max_iter: {{low: 20, high: 40}}}}}}
  inputs: {{train: split.train}}
- id: evaluate
  component: {evaluator}
  inputs: {{model: tune.model, test: split.test}}
- id: gate
  component: champion_gate@1.0.0
  params: {{model_name: {name}-model, metric: {metric}, min_delta: {min_delta}}}
  inputs: {{model: tune.model, test: split.test}}
- id: register
  component: register_model@1.0.0
  params: {{model_name: {name}-model}}
  inputs: {{model: gate.approved, metrics: evaluate.metrics}}
- id: serve
  component: deploy_endpoint@1.0.0
  params: {{endpoint_name: {name}-api}}
  inputs: {{registered: register.registered}}
- id: score
  component: batch_predict@1.1.0
  inputs: {{table: split.test, model: register.registered}}
- id: score_candidate
  component: batch_predict@1.1.0
  inputs: {{table: split.test, model: tune.model}}
"""


@pytest.fixture
def fresh_workspace(tmp_path: Path):
    workspace = init_workspace(tmp_path / "ws")
    yield workspace
    from serving.local_target import LocalProcessTarget

    endpoints = LocalProcessTarget(workspace, drain_seconds=0.1)
    for endpoint in endpoints.list():
        endpoints.delete(endpoint.name)


def run_journey(workspace: Workspace, store, **settings: str):
    spec = parse_workflow(JOURNEY.format(min_delta=0.0, **settings))
    runner = LocalRunner(workspace, store)
    record = runner.run(spec)
    failed = {n.node_id: runner.logs(record.id, n.node_id)[-800:] for n in record.nodes if n.status != "succeeded"}
    assert record.status == "succeeded", failed
    return runner, record


def scored_table(runner, record, node: str):
    import pandas as pd

    return pd.read_parquet(runner.runs.get(record.id).node(node).outputs["scored"]["uri"])


def call_endpoint(workspace: Workspace, name: str, rows: list[dict]) -> dict:
    from serving.local_target import LocalProcessTarget

    endpoint = LocalProcessTarget(workspace).status(name)
    token = (workspace.state_dir / "endpoints" / f"{name}.token").read_text().strip()
    answer = httpx.post(
        f"{endpoint.url}/v1/models/{name}:predict", json={"instances": rows},
        headers={"Authorization": f"Bearer {token}"}, timeout=30,
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    return answer.json()


def lineage_dot(workspace: Workspace, runner, model: str) -> str:
    """The Models page's lineage picture of a model's newest version, as Graphviz text."""
    from serving.local_target import LocalProcessTarget
    from studio.lineage import model_lineage
    from tessera.sdk.models import Models

    version = Models(workspace).version(f"{model}/1")
    run = runner.runs.get(version.lineage["tessera.run_id"])
    return model_lineage(version, run, LocalProcessTarget(workspace).list()).to_dot()


def assert_lineage(dot: str, model: str, endpoint: str, record) -> None:
    """From the data source step to the endpoint serving the version, whatever the task."""
    for box in (f"model {model} v1", "step tune", f"run {record.id}", "data · sample_dataset@1.0.0",
                "component tune_optuna@1.0.0", f"endpoint {endpoint}"):  # fmt: skip
        assert box in dot, f"{box!r} missing from the lineage: {dot[:600]}"


@pytest.mark.slow
def test_a_three_class_model_is_tuned_evaluated_gated_registered_and_served(fresh_workspace, store) -> None:
    from mlflow import MlflowClient
    from sklearn.datasets import load_iris

    settings = dict(name="iris", dataset="iris", stratify="true", task="classification", metric="roc_auc",
                    evaluator="evaluate_classifier@1.2.0")  # fmt: skip
    runner, record = run_journey(fresh_workspace, store, **settings)
    metrics = runner.runs.get(record.id).node("evaluate").outputs
    assert metrics, "evaluate wrote its metrics"
    client = MlflowClient(fresh_workspace.tracking_uri())
    version = client.get_model_version("iris-model", "1")
    logged = client.get_run(version.run_id).data.metrics
    for name in ("test_roc_auc", "test_roc_auc_weighted", "test_log_loss", "test_accuracy", "test_f1"):
        assert name in logged, f"{name} is among the multiclass test metrics: {sorted(logged)}"
    assert {f"test_precision_{c}" for c in range(3)} | {f"test_recall_{c}" for c in range(3)} <= set(logged)
    assert logged["test_roc_auc"] > 0.9
    importance = runner.runs.get(record.id).node("evaluate").outputs["metrics"]["metadata"]["feature_importance"]
    assert max(importance, key=importance.get).startswith("petal"), "three classes: importance by one-vs-rest AUC"

    iris = load_iris(as_frame=True).frame
    rows = iris.drop(columns="target").iloc[[0, 60, 120]].to_dict(orient="records")
    answer = call_endpoint(fresh_workspace, "iris-api", rows)
    assert answer["predictions"] == [0, 1, 2], "labels in the training labels' type"
    assert_lineage(lineage_dot(fresh_workspace, runner, "iris-model"), "iris-model", "iris-api", record)
    probabilities = np.asarray(answer["probabilities"])
    assert probabilities.shape == (3, 3) and np.allclose(probabilities.sum(axis=1), 1.0)
    scored = scored_table(runner, record, "score")
    assert {"prediction", "prediction_probability_0", "prediction_probability_1", "prediction_probability_2"} <= set(
        scored.columns
    ), "batch scoring after registration: one probability column per class"
    assert scored.equals(scored_table(runner, record, "score_candidate")), "the registered version is the candidate"

    stricter = parse_workflow(JOURNEY.format(min_delta=0.01, **settings))  # the same model must now win by 0.01
    again = runner.run(stricter, options=RunOptions(no_cache=True))
    gate = again.node("gate")
    assert gate.status == "failed" and "does not beat champion iris-model v1" in gate.message, (
        "the champion is scored one-vs-rest on the same test rows, like the candidate"
    )


@pytest.mark.slow
def test_a_regression_model_is_tuned_evaluated_gated_registered_and_served(fresh_workspace, store) -> None:
    from mlflow import MlflowClient
    from mlflow.sklearn import load_model
    from sklearn.datasets import load_diabetes

    settings = dict(name="diabetes", dataset="diabetes", stratify="false", task="regression", metric="rmse",
                    evaluator="evaluate_regressor@1.1.0")  # fmt: skip
    runner, record = run_journey(fresh_workspace, store, **settings)
    scored = scored_table(runner, record, "score")
    assert "prediction" in scored.columns and not [c for c in scored.columns if "probability" in c]
    client = MlflowClient(fresh_workspace.tracking_uri())
    version = client.get_model_version("diabetes-model", "1")
    assert {"test_rmse", "test_mae", "test_r2"} <= set(client.get_run(version.run_id).data.metrics)
    diabetes = load_diabetes(as_frame=True).frame
    features = diabetes.drop(columns="target").iloc[:5]
    answer = call_endpoint(fresh_workspace, "diabetes-api", features.to_dict(orient="records"))
    assert set(answer) == {"predictions"}, "a regressor answers values only"
    assert_lineage(lineage_dot(fresh_workspace, runner, "diabetes-model"), "diabetes-model", "diabetes-api", record)
    import mlflow

    mlflow.set_tracking_uri(fresh_workspace.tracking_uri())
    expected = load_model("models:/diabetes-model/1").predict(features)
    assert np.allclose(answer["predictions"], expected, atol=1e-9)
