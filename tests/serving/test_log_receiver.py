"""The cluster's prediction-log receiver, over HTTP on loopback, writing to a real S3-compatible server
(moto's): KServe-shaped CloudEvents (binary and structured mode, made with the `cloudevents` SDK that
KServe's own tests use, in either order) become the local log's layout in object storage; what is not
an inference event gets a 400 that does not echo it; and a drift report reads the S3 log of an
endpoint this workspace never deployed (a pod's view) for a regressor registered from a notebook."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from serving.log_receiver import REQUEST_TYPE, RESPONSE_TYPE, LogReceiver, receiver_app, signature_columns
from serving.monitoring import monitor_report, read_log
from serving.prediction_log import LoggedRequest, PredictionLog, log_files

pytestmark = pytest.mark.slow
ROOT = "s3://risk-data/predictions"


def _serve(app: Any) -> Iterator[str]:
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def receiver(s3: str) -> Iterator[tuple[str, LogReceiver]]:
    taker = LogReceiver(ROOT, flush_seconds=0.2)
    for url in _serve(receiver_app(taker)):
        yield url, taker
    taker.close()


def _event(kind: str, event_id: str, data: dict[str, Any], structured: bool = False, role: str = "default") -> Any:
    from cloudevents.conversion import to_binary, to_structured
    from cloudevents.http import CloudEvent

    attributes = {
        "type": kind, "source": "http://localhost:9081/", "id": event_id, "inferenceservicename": "cheater-api",
        "namespace": "risk", "component": "predictor", "endpoint": role, "datacontenttype": "application/json",
    }  # fmt: skip
    return (to_structured if structured else to_binary)(CloudEvent(attributes, data))


def _post(url: str, event: Any, query: str = "endpoint=cheater-api&model=cheater&version=3") -> httpx.Response:
    headers, body = event
    return httpx.post(f"{url}/?{query}", headers=headers, content=body)


def _wait_for(root: str, rows: int) -> pd.DataFrame:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        logged = read_log(root, 0)
        if len(logged) >= rows:
            return logged
        time.sleep(0.2)
    pytest.fail(f"{root} has {len(read_log(root, 0))} rows, not {rows}")


def test_kserve_events_are_paired_and_written_in_the_local_layout_to_object_storage(
    receiver: tuple[str, LogReceiver], tmp_path: Path
) -> None:
    url, _ = receiver
    v1_request = {"instances": [{"kd_ratio": 1.5, "country": "DE"}, {"kd_ratio": None, "country": "XX"}]}
    v1_response = {"predictions": [0, 1], "probabilities": [[0.9, 0.1], [0.2, 0.8]]}
    assert _post(url, _event(REQUEST_TYPE, "r-1", v1_request)).status_code == 202
    assert _post(url, _event(RESPONSE_TYPE, "r-1", v1_response)).status_code == 202
    # a canary's response may come first, in structured mode, over the open inference protocol
    v2_request = {"inputs": [
        {"name": "kd_ratio", "shape": [1], "datatype": "FP64", "data": [3.0]},
        {"name": "country", "shape": [1], "datatype": "BYTES", "data": ["US"]},
    ]}  # fmt: skip
    v2_response = {"model_name": "cheater-api", "model_version": "4", "outputs": [
        {"name": "predictions", "shape": [1], "datatype": "INT64", "data": [1]},
        {"name": "probabilities", "shape": [1, 2], "datatype": "FP64", "data": [0.3, 0.7]},
    ]}  # fmt: skip
    assert _post(url, _event(RESPONSE_TYPE, "r-2", v2_response, True, "canary")).status_code == 202
    assert _post(url, _event(REQUEST_TYPE, "r-2", v2_request, True, "canary")).status_code == 202

    logged = _wait_for(f"{ROOT}/cheater-api", 3).sort_values(["request_id", "row"])
    assert all(
        "/date=" in path and path.rsplit("/", 1)[-1].startswith("part-") for path in log_files(f"{ROOT}/cheater-api")
    )
    assert logged["request_id"].tolist() == ["r-1", "r-1", "r-2"]
    assert logged["model_version"].astype(str).tolist() == ["3", "3", "4"], "the response's version wins"
    assert logged["role"].astype(str).tolist() == ["default", "default", "canary"]
    assert logged["input:country"].astype(str).tolist() == ["DE", "XX", "US"]
    assert np.isnan(logged["input:kd_ratio"].iloc[1]) and logged["output:probabilities:1"].tolist() == [0.1, 0.8, 0.7]

    # the same answers logged by a local endpoint's writer have the same columns
    local = PredictionLog(tmp_path / "local", "cheater-api", flush_seconds=0.1)
    local.record(LoggedRequest(
        "x", "3", "default", time.time(), v1_request["instances"], None,
        {"predictions": np.array([0, 1]), "probabilities": np.array([[0.9, 0.1], [0.2, 0.8]])},
    ), 2)  # fmt: skip
    local.close()
    assert set(read_log(tmp_path / "local", 0).columns) == set(logged.columns)


def test_what_is_not_an_inference_event_is_refused_without_echo(receiver: tuple[str, LogReceiver]) -> None:
    url, taker = receiver
    secret = "card-4111-1111-1111-1111"
    plain = httpx.post(f"{url}/", json={"instances": [[secret]]})
    assert plain.status_code == 400 and "not a CloudEvent" in plain.json()["error"] and secret not in plain.text
    other = _post(url, _event("com.example.order.created", "o-1", {"instances": [[secret]]}))
    assert other.status_code == 400 and REQUEST_TYPE in other.json()["error"] and secret not in other.text
    for name in ("..%2F..%2Fetc", "Cheater_API", ""):
        hostile = _post(url, _event(REQUEST_TYPE, "h-1", {"instances": [[1.0]]}), f"endpoint={name}")
        if name == "":  # falls back to the event's inferenceservicename: a valid name
            assert hostile.status_code == 202
        else:
            assert hostile.status_code == 400 and "endpoint name" in hostile.json()["error"]
    huge = httpx.post(f"{url}/", content=b"x" * (taker.max_bytes + 1), headers={"ce-id": "1"})
    assert huge.status_code == 413
    no_rows = _event(REQUEST_TYPE, "n-1", {"rows": [1]})
    assert _post(url, no_rows).status_code == 202  # kept until its response shows what it was
    assert _post(url, _event(RESPONSE_TYPE, "n-1", {"error": "bad input"})).status_code == 202  # an error answer
    sampled_out = "endpoint=quiet-api&model=cheater&version=3&sample=0"
    assert _post(url, _event(REQUEST_TYPE, "s-1", {"instances": [[1.0]]}), sampled_out).status_code == 202
    assert _post(url, _event(RESPONSE_TYPE, "s-1", {"predictions": [1]}), sampled_out).status_code == 202
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    taker.close()
    assert log_files(f"{ROOT}/quiet-api") == [], "a sample rate of 0 logs nothing"


def test_a_drift_report_reads_the_s3_log_of_an_endpoint_deployed_elsewhere(s3: str, tmp_path: Path) -> None:
    """What the monitor_endpoint component does in a pod: no endpoint registry, the log in object storage,
    rows sent as lists (v1) named by the version's signature."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    import tessera
    from tessera.workspace import init_workspace, load_workspace

    folder = init_workspace(tmp_path / "ws")
    config = folder.root / "tessera.yaml"
    config.write_text(config.read_text() + f"prediction_log: {ROOT}\n")
    data = load_diabetes(as_frame=True).frame
    features = data.drop(columns="target")
    model = GradientBoostingRegressor(n_estimators=30, random_state=0).fit(features, data["target"])
    tessera.open(folder.root).models.register(model, "diabetes", features=features, alias="champion")
    workspace = load_workspace(folder.root)

    taker = LogReceiver(ROOT, signature_columns(workspace.tracking_uri()), flush_seconds=0.2)
    shifted = features.sample(300, replace=True, random_state=1).assign(bmi=lambda f: f["bmi"] + 0.08)
    for url in _serve(receiver_app(taker)):
        for start in range(0, 300, 50):
            batch = shifted.iloc[start : start + 50]
            request = {"instances": batch.to_numpy().tolist()}
            response = {"predictions": model.predict(batch).tolist()}
            query = "endpoint=diabetes-api&model=diabetes&version=1"
            assert _post(url, _event(REQUEST_TYPE, f"d-{start}", request), query).status_code == 202
            assert _post(url, _event(RESPONSE_TYPE, f"d-{start}", response), query).status_code == 202
        _wait_for(f"{ROOT}/diabetes-api", 300)
    taker.close()

    report = monitor_report(workspace, "diabetes-api", 3600, model="diabetes")
    assert report["model_version"] == "diabetes/1" and report["window"]["rows"] == 300
    drifted = {c["name"] for c in report["columns"] if c["drifted"]}
    assert "bmi" in drifted and "age" not in drifted, json.dumps(report["columns"])[:500]
    with pytest.raises(Exception, match="name its registered model"):
        monitor_report(workspace, "diabetes-api", 3600)
