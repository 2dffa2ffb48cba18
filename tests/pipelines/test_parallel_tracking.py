"""A fresh workspace's first workflow with MLflow nodes side by side, at the default parallelism.

Before stores were prepared under a lock, the nodes all migrated the new SQLite store at once and
corrupted it for good (`_alembic_tmp_metrics already exists`, then on every later run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.local_runner import LocalRunner
from pipelines.runner import RunOptions
from pipelines.workflow_io import parse_workflow
from tessera.workspace import init_workspace, load_workspace
from tests.tessera.test_stores import mlflow_schema_ok

FAMILIES = ("logistic", "random_forest", "gradient_boosting", "hist_gradient_boosting")
TRAINERS = "\n".join(
    f"""- id: train_{family}
  component: train_classifier@1.0.0
  params: {{label: target, family: {family}, n_estimators: 20, max_iter: 20}}
  inputs: {{train: split.train}}"""
    for family in FAMILIES
)
WORKFLOW = f"""name: four_trainers
project: risk
nodes:
- id: data
  component: sample_dataset@1.0.0
  params: {{dataset: breast_cancer}}
- id: split
  component: train_test_split@1.0.0
  params: {{label: target}}
  inputs: {{table: data.table}}
{TRAINERS}
"""


def run_four_trainers(root: Path, store) -> None:
    workspace = load_workspace(root)
    runner = LocalRunner(workspace, store)
    record = runner.run(parse_workflow(WORKFLOW), {}, RunOptions())  # default parallelism: the CPU count
    failed = {n.node_id: runner.logs(record.id, n.node_id)[-600:] for n in record.nodes if n.status != "succeeded"}
    assert record.status == "succeeded", failed
    assert mlflow_schema_ok(workspace.tracking_uri())
    from mlflow import MlflowClient

    client = MlflowClient(workspace.tracking_uri())  # the plain client sees one run per trainer
    experiment = client.get_experiment_by_name("risk/four_trainers")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.data.tags["tessera.node"] for r in runs) == sorted(f"train_{f}" for f in FAMILIES)


@pytest.mark.slow
def test_parallel_mlflow_nodes_on_a_fresh_sqlite_workspace(tmp_path: Path, store) -> None:
    workspace = init_workspace(tmp_path / "fresh")
    assert not (workspace.state_dir / "mlflow.db").exists(), "nothing made the store before the run"
    run_four_trainers(workspace.root, store)


@pytest.mark.slow
def test_parallel_mlflow_nodes_on_a_fresh_postgresql_store(tmp_path: Path, store, fresh_postgres_url: str) -> None:
    root = tmp_path / "fresh"
    init_workspace(root)
    (root / "tessera.yaml").write_text(f"name: fresh\ntracking_uri: {fresh_postgres_url}\n")
    run_four_trainers(root, store)
