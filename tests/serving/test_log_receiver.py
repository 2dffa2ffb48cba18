"""The cluster's prediction-log receiver, over HTTP on loopback, writing to a real S3-compatible server
(moto's): KServe-shaped CloudEvents (binary and structured mode, made with the `cloudevents` SDK that
KServe's own tests use, in either order) become the local log's layout in object storage; what is not
an inference event gets a 400 that does not echo it. The monitor_endpoint component reads what it writes
(tests/component_store/components/test_monitor_endpoint.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from serving.log_receiver import REQUEST_TYPE, RESPONSE_TYPE, LogReceiver, receiver_app
from serving.monitoring import read_log
from serving.prediction_log import LoggedRequest, PredictionLog, log_files
from tests.servers import serving_app
from tests.serving.fixtures import wait_for_rows

pytestmark = pytest.mark.slow
ROOT = "s3://risk-data/predictions"


@pytest.fixture
def receiver(s3: str) -> Iterator[tuple[str, LogReceiver]]:
    taker = LogReceiver(ROOT, flush_seconds=0.2)
    with serving_app(receiver_app(taker)) as url:
        yield url, taker
    taker.close()


def kserve_event(
    kind: str, event_id: str, data: dict[str, Any], structured: bool = False, role: str = "default"
) -> Any:
    from cloudevents.conversion import to_binary, to_structured
    from cloudevents.http import CloudEvent

    attributes = {
        "type": kind, "source": "http://localhost:9081/", "id": event_id, "inferenceservicename": "cheater-api",
        "namespace": "risk", "component": "predictor", "endpoint": role, "datacontenttype": "application/json",
    }  # fmt: skip
    return (to_structured if structured else to_binary)(CloudEvent(attributes, data))


def post_event(url: str, event: Any, query: str = "endpoint=cheater-api&model=cheater&version=3") -> httpx.Response:
    headers, body = event
    return httpx.post(f"{url}/?{query}", headers=headers, content=body)


def test_kserve_events_are_paired_and_written_in_the_local_layout_to_object_storage(
    receiver: tuple[str, LogReceiver], tmp_path: Path
) -> None:
    url, _ = receiver
    v1_request = {"instances": [{"kd_ratio": 1.5, "country": "DE"}, {"kd_ratio": None, "country": "XX"}]}
    v1_response = {"predictions": [0, 1], "probabilities": [[0.9, 0.1], [0.2, 0.8]]}
    assert post_event(url, kserve_event(REQUEST_TYPE, "r-1", v1_request)).status_code == 202
    assert post_event(url, kserve_event(RESPONSE_TYPE, "r-1", v1_response)).status_code == 202
    # a canary's response may come first, in structured mode, over the open inference protocol
    v2_request = {"inputs": [
        {"name": "kd_ratio", "shape": [1], "datatype": "FP64", "data": [3.0]},
        {"name": "country", "shape": [1], "datatype": "BYTES", "data": ["US"]},
    ]}  # fmt: skip
    v2_response = {"model_name": "cheater-api", "model_version": "4", "outputs": [
        {"name": "predictions", "shape": [1], "datatype": "INT64", "data": [1]},
        {"name": "probabilities", "shape": [1, 2], "datatype": "FP64", "data": [0.3, 0.7]},
    ]}  # fmt: skip
    assert post_event(url, kserve_event(RESPONSE_TYPE, "r-2", v2_response, True, "canary")).status_code == 202
    assert post_event(url, kserve_event(REQUEST_TYPE, "r-2", v2_request, True, "canary")).status_code == 202

    logged = wait_for_rows(f"{ROOT}/cheater-api", 3).sort_values(["request_id", "row"])
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
    other = post_event(url, kserve_event("com.example.order.created", "o-1", {"instances": [[secret]]}))
    assert other.status_code == 400 and REQUEST_TYPE in other.json()["error"] and secret not in other.text
    for name in ("..%2F..%2Fetc", "Cheater_API", ""):
        hostile = post_event(url, kserve_event(REQUEST_TYPE, "h-1", {"instances": [[1.0]]}), f"endpoint={name}")
        if name == "":  # falls back to the event's inferenceservicename: a valid name
            assert hostile.status_code == 202
        else:
            assert hostile.status_code == 400 and "endpoint name" in hostile.json()["error"]
    huge = httpx.post(f"{url}/", content=b"x" * (taker.max_bytes + 1), headers={"ce-id": "1"})
    assert huge.status_code == 413
    no_rows = kserve_event(REQUEST_TYPE, "n-1", {"rows": [1]})
    assert post_event(url, no_rows).status_code == 202  # kept until its response shows what it was
    assert (
        post_event(url, kserve_event(RESPONSE_TYPE, "n-1", {"error": "bad input"})).status_code == 202
    )  # an error answer
    sampled_out = "endpoint=quiet-api&model=cheater&version=3&sample=0"
    assert post_event(url, kserve_event(REQUEST_TYPE, "s-1", {"instances": [[1.0]]}), sampled_out).status_code == 202
    assert post_event(url, kserve_event(RESPONSE_TYPE, "s-1", {"predictions": [1]}), sampled_out).status_code == 202
    assert httpx.get(f"{url}/healthz").json()["status"] == "ok"
    taker.close()
    assert log_files(f"{ROOT}/quiet-api") == [], "a sample rate of 0 logs nothing"
