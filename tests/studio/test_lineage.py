"""A model version's lineage as a picture, from values: a version registered by a workflow run and
served by two endpoints (one as a 10 % canary), and one registered from a notebook."""

from __future__ import annotations

from pipelines.runs import RunRecord
from serving.endpoints import Endpoint, EndpointRequest, Route
from serving.model_registry import ModelVersionInfo
from studio.lineage import model_lineage

WORKFLOW = """name: cheater_detection
project: risk
nodes:
- {id: players, component: sample_dataset@1.0.0}
- {id: events, component: sample_dataset@1.0.0, params: {dataset: iris}}
- {id: fill, component: fill_missing@1.0.0, inputs: {table: players.table}}
- {id: train, component: train_classifier@1.2.0, inputs: {train: fill.filled}}
"""


def version(**tags: str) -> ModelVersionInfo:
    return ModelVersionInfo("cheater-detector", "3", ("champion",), "a1b2c3d4e5f6", "runs:/x", 0, tags)


def served(name: str, *routes: tuple[str, int]) -> Endpoint:
    request = EndpointRequest(name=name, model="cheater-detector@champion")
    return Endpoint(
        name=name, target="local", status="running", url="", request=request,
        routes=tuple(Route(ref=f"cheater-detector/{v}", model_name="cheater-detector", version=v, percent=p)
                     for v, p in routes),
    )  # fmt: skip


def run_record() -> RunRecord:
    return RunRecord(
        id="20261205-0101-ab12", workflow="risk/cheater_detection", workflow_digest="", workflow_yaml=WORKFLOW,
        params={}, backend="local", options={}, status="succeeded", created_at=0, started_at=0, ended_at=1,
        driver_pid=None, driver_host=None, cancel_requested=False, message="",
    )  # fmt: skip


def test_a_workflow_models_lineage_runs_from_its_data_to_the_endpoints_that_serve_it() -> None:
    tags = {"tessera.run_id": "20261205-0101-ab12", "tessera.node": "train", "tessera.workflow": "risk/cheater_detection",
            "tessera.component": "train_classifier@1.2.0"}  # fmt: skip
    endpoints = [served("cheater-api", ("3", 90), ("4", 10)), served("shadow", ("4", 100))]
    lineage = model_lineage(version(**tags), run_record(), endpoints, "http://127.0.0.1:5000", "7")
    arrows = {(a, b) for a, b, _ in lineage.arrows}
    assert arrows == {
        ("data:players · sample_dataset@1.0.0", "run:20261205-0101-ab12"),  # `events` does not feed train
        ("run:20261205-0101-ab12", "step:train"),
        ("component:train_classifier@1.2.0", "step:train"),
        ("step:train", "mlflow:a1b2c3d4e5f6"),
        ("mlflow:a1b2c3d4e5f6", "model:cheater-detector/3"),
        ("model:cheater-detector/3", "endpoint:cheater-api"),  # `shadow` serves another version
    }
    links = {box.key: box.link for box in lineage.boxes}
    assert links["mlflow:a1b2c3d4e5f6"] == "http://127.0.0.1:5000/#/experiments/7/runs/a1b2c3d4e5f6"
    assert links["model:cheater-detector/3"] == "http://127.0.0.1:5000/#/models/cheater-detector/versions/3"
    assert links["step:train"] == "runs?run=20261205-0101-ab12"
    assert "endpoint cheater-api\\n90% of traffic" in lineage.to_dot()
    assert lineage.to_dot().count("->") == 6


def test_a_notebook_models_lineage_is_its_mlflow_run_and_endpoints_and_text_is_escaped() -> None:
    lineage = model_lineage(version(), None, [served("x", ("3", 100))])
    assert {(a, b) for a, b, _ in lineage.arrows} == {
        ("mlflow:a1b2c3d4e5f6", "model:cheater-detector/3"), ("model:cheater-detector/3", "endpoint:x"),
    }  # fmt: skip
    assert all(box.link == "" for box in lineage.boxes if box.kind == "mlflow"), "no MLflow UI known: no link"
    odd = ModelVersionInfo('a"b', "1", (), None, "", 0, {})
    assert 'label="model a\\"b v1"' in model_lineage(odd, None, []).to_dot()
