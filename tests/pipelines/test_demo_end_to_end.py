"""The demo journey: raw player data → tuned, evaluated model → registered only when it beats the champion.

Run on SQLite tracking (the embedded default) through the SDK, as a notebook user runs it, and on the
PostgreSQL that runs on this machine through the runner itself.
"""

from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

import tessera
from pipelines.local_runner import LocalRunner
from pipelines.preview import preview_table
from pipelines.runner import RunOptions
from tessera.workspace import load_workspace

FAST = {"players": 1500, "n_trials": 3}  # notebook 01 runs with these too: its run comes from the cache
WORSE = FAST | {"search_space": {"max_depth": 1, "max_iter": 10, "learning_rate": 0.01}}


def states(record) -> dict[str, str]:
    return {n.node_id: n.status for n in record.nodes}


def journey(workspace, store, demo_spec, first=None, rerun: bool = True) -> None:
    """The first run's registry, lineage and live endpoint; with `rerun`, also that running again registers
    no duplicate and that a worse candidate is rejected (backend-independent, so checked on one store)."""
    runner = LocalRunner(workspace, store)
    first = first or runner.run(demo_spec, FAST)
    assert first.status == "succeeded", [(n.node_id, n.message) for n in first.nodes if n.message]
    registered = first.node("register").outputs["registered"]["metadata"]
    assert registered["version"] == "1" and set(registered["aliases"]) == {"challenger", "champion"}

    client = MlflowClient(tracking_uri=workspace.tracking_uri(), registry_uri=workspace.tracking_uri())
    version = client.get_model_version("cheater-detector", "1")
    assert version.tags["tessera.run_id"] == first.id
    assert version.tags["tessera.node"] == "tune"
    assert version.tags["tessera.component"] == "tune_optuna@1.1.0"
    assert version.tags["tessera.workflow"] == "risk/cheater_detection"
    assert version.tags["tessera.data_fingerprint"]
    assert float(version.tags["tessera.metric.roc_auc"]) > 0.85
    run = client.get_run(version.tags["tessera.training_run"])
    assert run.data.tags["tessera.node"] == "tune" and run.data.tags["optuna.study"]
    assert client.get_experiment(run.info.experiment_id).name == "risk/cheater_detection"

    served = first.node("serve").outputs["endpoint"]["metadata"]
    assert served["created"] is True and served["routes"] == [
        {"model": "cheater-detector", "version": "1", "percent": 100}
    ]
    token = (workspace.state_dir / "endpoints" / "cheater-api.token").read_text().strip()
    metadata = httpx.get(f"{served['url']}/v2/models/cheater-api", headers={"Authorization": f"Bearer {token}"})
    assert metadata.status_code == 200 and metadata.json()["versions"] == ["1"], "the workflow ends in a live API"
    inputs = {i["name"]: i for i in metadata.json()["inputs"]}
    assert "country=DE" not in inputs and inputs["country"]["datatype"] == "BYTES"  # the raw columns, not encoded
    assert (
        "DE" in inputs["country"]["parameters"]["categories"]
        and inputs["avg_session_minutes"]["parameters"]["nullable"]
    )
    player = {  # a player row as a game service has it: text categories, a missing session length
        "account_age_days": 40, "country": "DE", "platform": "pc", "logins_7d": 12, "avg_session_minutes": None,
        "matches_7d": 30, "win_rate": 0.71, "headshot_ratio": 0.62, "kd_ratio": 3.4, "payments_30d": 0,
        "payment_amount_30d": 0.0, "chargebacks_90d": 0, "device_count": 3, "reports_received_30d": 6,
    }  # fmt: skip
    answer = httpx.post(
        f"{served['url']}/v1/models/cheater-api:predict", json={"instances": [player]},
        headers={"Authorization": f"Bearer {token}"},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"] in ([0], [1]) and len(answer.json()["probabilities"][0]) == 2

    if not rerun:
        return
    again = runner.run(demo_spec, FAST, RunOptions(no_cache=True))
    assert again.status == "succeeded"
    assert again.node("register").outputs["registered"]["metadata"]["created"] is False
    assert len(client.search_model_versions("name='cheater-detector'")) == 1, "the same run registers no duplicate"

    worse = runner.run(demo_spec, WORSE)
    assert worse.status == "succeeded", "a rejected candidate is an answer, not a failure"
    assert states(worse)["gate"] == "succeeded" and states(worse)["register"] == states(worse)["serve"] == "not_run"
    gate = worse.node("gate").outputs
    assert gate["decision"]["value"] == "reject"
    assert "does not beat champion cheater-detector v1" in gate["reason"]["value"]
    assert worse.node("register").message == "not run: its condition gate.decision == 'accept' is false"
    assert worse.node("serve").message == "not run: upstream 'register' did not run"
    assert len(client.search_model_versions("name='cheater-detector'")) == 1


def sdk_journey(ws: tessera.Workspace, run: tessera.Run) -> None:
    """What a notebook user reads from the demo's run: outputs, the model by alias, the endpoint."""
    test = run.output("split", "test")
    uri = run.nodes["split"].outputs["test"]["uri"]
    pd.testing.assert_frame_equal(test.head(10), preview_table(uri, 10).head_frame(), check_dtype=False)
    assert len(test) == preview_table(uri).rows, "the SDK's DataFrame is the table the CLI previews"

    version = ws.models.version("cheater-detector@champion")
    assert version.lineage["tessera.run_id"] == run.id
    assert run.output("evaluate", "metrics")["roc_auc"] == pytest.approx(version.metrics["roc_auc"])
    assert run.metrics()["evaluate.roc_auc"] == pytest.approx(version.metrics["roc_auc"])
    assert run.output("gate", "decision") == "accept"

    model = ws.models.load("cheater-detector@champion")
    features = test.drop(columns=["player_id", "is_cheater"])
    by_model = model.predict_proba(features[list(model.feature_names_in_)])[:, 1]
    # the same players as a game service sends them: raw columns, text categories, missing values
    raw = run.output("validate", "validated").set_index("player_id").loc[test["player_id"]].reset_index()
    assert raw.isna().any().any(), "the raw rows have gaps the inference pipeline fills"
    answer = ws.endpoint("cheater-api").predict(raw.drop(columns=["is_cheater"]).head(200))
    assert answer.attrs["model_version"] == version.version
    by_endpoint = np.array([p[1] for p in answer["probabilities"]])
    assert np.allclose(by_endpoint, by_model[:200], atol=1e-5), "the model loaded by alias answers as the endpoint"

    html = run._repr_html_()
    assert html.count("<tr>") == 1 + len(run.nodes) and "succeeded" in html


@pytest.mark.slow
def test_demo_journey_on_sqlite_tracking_through_the_sdk_then_the_example_notebooks(
    demo_workspace, store, demo_spec, monkeypatch
):
    ws = tessera.open(demo_workspace.root)
    first = ws.run("cheater_detection", FAST, progress=False)
    sdk_journey(ws, first)
    journey(demo_workspace, store, demo_spec, first.record)

    # then a notebook user's session on the same workspace: the four example notebooks, in order
    monkeypatch.setenv("TESSERA_USER", "ana")
    monkeypatch.delenv("TESSERA_HOME", raising=False)  # the notebooks find the workspace from their folder
    run_example_notebooks(demo_workspace)
    latest = ws.models.versions("cheater-detector")[0]
    assert latest.tags["tessera.source"] == "notebook" and "challenger" in latest.aliases
    assert ws.components.show("clip_amounts").version == "1.0.0"


def run_example_notebooks(workspace) -> None:
    """Every example notebook, executed by a real Jupyter kernel in the workspace's notebooks/ folder;
    a notebook that raises fails with the cell and its error (the notebooks assert on what they show)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from studio.launch import EXAMPLE_NOTEBOOKS, copy_example_notebooks

    notebooks = copy_example_notebooks(workspace)
    names = sorted(p.name for p in EXAMPLE_NOTEBOOKS.glob("*.ipynb"))
    assert len(names) == 4 and names == sorted(p.name for p in notebooks.glob("*.ipynb"))
    for name in names:
        notebook = nbformat.read(notebooks / name, as_version=4)
        assert not any(cell.get("outputs") for cell in notebook.cells), f"{name} is committed with outputs"
        client = NotebookClient(
            notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(notebooks)}}
        )
        try:
            client.execute()
        except CellExecutionError as exc:
            pytest.fail(f"{name} failed:\n{str(exc)[-3000:]}")


@pytest.mark.slow
def test_demo_journey_on_postgresql_tracking(demo_workspace, store, demo_spec, fresh_postgres_url):
    config = demo_workspace.root / "tessera.yaml"
    config.write_text(config.read_text().replace("sqlite:///.tessera/mlflow.db", fresh_postgres_url))
    workspace = load_workspace(demo_workspace.root)
    assert workspace.tracking_uri() == fresh_postgres_url
    journey(workspace, store, demo_spec, rerun=False)
