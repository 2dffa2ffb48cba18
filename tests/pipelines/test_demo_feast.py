"""The Spark + Feast variant of the demo: event log → Spark features → Feast → point-in-time training set →
a gradient-boosting model and a neural network (GPU requested) → evaluation → registry."""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd
import pytest
from mlflow import MlflowClient

from component_store.runtime.event_features import EventAggregation, aggregate_events_pandas, snapshot_times
from pipelines.compiler import compile_workflow, task_name
from pipelines.local_runner import LocalRunner
from pipelines.workflow_io import parse_workflow
from serving.online_features import get_online_features

PLAYERS = 700


@pytest.fixture
def feast_spec(demo_workspace):
    return parse_workflow(demo_workspace.find_workflow("cheater_detection_feast").read_text())


def test_spark_feast_workflow_runs_locally_point_in_time(demo_workspace, store, feast_spec, monkeypatch):
    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    record = LocalRunner(demo_workspace, store).run(feast_spec, {"players": PLAYERS})
    assert record.status == "succeeded", [(n.node_id, n.message) for n in record.nodes if n.message]

    # The training set is what a pandas as-of join of the same features gives: no value from after a label's time.
    events = pd.read_parquet(record.node("events").outputs["events"]["uri"])
    labels = pd.read_parquet(record.node("events").outputs["labels"]["uri"])
    spec = EventAggregation.build(
        "player_id", "event_time", "event_type", ["login", "match", "payment", "report"],
        ["amount", "score"], ["device_id"], ["1d", "7d", "30d"],
        snapshot_times(events["event_time"].max(), "", 9, "7d"),
    )  # fmt: skip
    reference = pd.merge_asof(
        labels.reset_index().sort_values("event_timestamp"),
        aggregate_events_pandas(events, spec).sort_values("event_timestamp"),
        on="event_timestamp",
        by="player_id",
        tolerance=pd.Timedelta(days=30),  # the feature view's ttl
    ).sort_values("index")
    training = pd.read_parquet(record.node("training_set").outputs["training_set"]["uri"])
    assert len(training) == PLAYERS
    for column in ["login_count_7d", "report_count_30d", "score_mean_7d", "days_since_last_payment"]:
        pd.testing.assert_series_equal(
            training[column].astype("float64").reset_index(drop=True),
            reference[column].astype("float64").reset_index(drop=True),
            check_names=False,
        )

    # Both models are evaluated; the GPU request is noted and ignored on this CPU-only machine.
    for node in ("evaluate", "evaluate_mlp"):
        assert record.node(node).outputs["metrics"]["metadata"]["roc_auc"] > 0.6
    log = (demo_workspace.state_dir / "runs" / record.id / "train_mlp.log").read_text()
    assert "note: 1 GPU requested, but this machine has none: running on CPU" in log
    assert record.node("train_mlp").outputs["model"]["metadata"]["device"] == "cpu"

    client = MlflowClient(tracking_uri=demo_workspace.tracking_uri(), registry_uri=demo_workspace.tracking_uri())
    version = client.get_model_version("cheater-detector-feast", "1")
    assert version.tags["tessera.workflow"] == "risk/cheater_detection_feast"

    # The online store serves the latest snapshot per player, in the order a model asks for.
    online = get_online_features(
        "projects/risk/features", [0, 1], ["player_activity"], feature_order=["login_count_7d"]
    )
    features = pd.read_parquet(record.node("features").outputs["features"]["uri"])
    latest = features[features["event_timestamp"] == features["event_timestamp"].max()].set_index("player_id")
    assert online["login_count_7d"].tolist() == latest.loc[[0, 1], "login_count_7d"].tolist()

    # The workflow ends in an endpoint scored by player id: kserve's own client, with its defaults, sends ids only.
    served = record.node("serve").outputs["endpoint"]["metadata"]
    token = (demo_workspace.state_dir / "endpoints" / "cheater-by-id.token").read_text().strip()
    answer = asyncio.run(kserve_v1(served["url"], token, [{"player_id": 0}, {"player_id": 1}]))
    assert len(answer["predictions"]) == 2 and len(answer["probabilities"][0]) == 2
    assert answer["missing_features"] == ["", ""]
    headers = {"Authorization": f"Bearer {token}"}
    metadata = httpx.get(f"{served['url']}/v2/models/cheater-by-id", headers=headers).json()
    assert [i["name"] for i in metadata["inputs"]] == ["player_id"], "the request carries the id alone"
    assert metadata["parameters"]["features"]["views"] == ["player_activity"]
    by_v2 = httpx.post(
        f"{served['url']}/v2/models/cheater-by-id/infer", headers=headers,
        json={"inputs": [{"name": "player_id", "shape": [2], "datatype": "INT64", "data": [0, 1]}]},
    ).json()  # fmt: skip
    assert next(o for o in by_v2["outputs"] if o["name"] == "probabilities")["data"][1::2] == [
        p[1] for p in answer["probabilities"]
    ]
    unknown = httpx.post(
        f"{served['url']}/v1/models/cheater-by-id:predict", headers=headers, json={"instances": [{"player_id": 10**9}]}
    )
    assert unknown.status_code == 404 and "unknown player_id '1000000000'" in unknown.json()["error"]


async def kserve_v1(url: str, token: str, instances: list[dict]) -> dict:
    from serving.model_server import import_kserve

    import_kserve()
    from kserve import InferenceRESTClient

    client = InferenceRESTClient()  # its defaults: protocol v1
    try:
        return await client.infer(
            url, {"instances": instances}, model_name="cheater-by-id", headers={"Authorization": f"Bearer {token}"}
        )
    finally:
        await client.close()


def test_spark_feast_workflow_compiles_with_gpu_and_spark_resources(feast_spec, store):
    ir = compile_workflow(feast_spec, store)
    executors = ir["deploymentSpec"]["executors"]

    def resources(node_id: str) -> dict:
        task = ir["root"]["dag"]["tasks"][task_name(node_id)]
        return executors[task["componentRef"]["name"].replace("comp-", "exec-")]["container"]["resources"]

    mlp = resources("train_mlp")
    assert mlp["accelerator"]["resourceCount"] == "1" and mlp["accelerator"]["resourceType"] == "nvidia.com/gpu"
    spark = resources("features")  # local[2] with a 2g driver: 2 cores, 2 GiB + JVM overhead
    assert spark["resourceCpuLimit"] == "2" and spark["resourceMemoryLimit"] == "2560Mi"
