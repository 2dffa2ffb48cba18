"""A deployed endpoint over real HTTP on loopback: V1 and V2 with kserve's own client and plain HTTP,
every bad-input case, auth, limits, metadata, metrics; a hypothesis fuzz finds no 5xx."""

from __future__ import annotations

import asyncio
import re
import time

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.endpoints import Endpoint
from serving.local_target import LocalProcessTarget
from serving.model_server import import_kserve
from tests.serving.fixtures import ServedWorkspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def http(live_endpoint: Endpoint) -> httpx.Client:
    return httpx.Client(
        base_url=live_endpoint.url, headers={"Authorization": f"Bearer {live_endpoint.token}"}, timeout=10
    )


def test_v1_with_kserve_client_lists_and_records_agree_with_the_model(
    live_endpoint: Endpoint, served_workspace: ServedWorkspace
) -> None:
    import mlflow.pyfunc
    import pandas as pd

    import_kserve()
    from kserve import InferenceRESTClient, RESTConfig

    rows = served_workspace.rows[:20]
    records = [dict(zip(served_workspace.columns, row, strict=True)) for row in rows]

    async def ask() -> tuple[dict, dict, dict]:
        client = InferenceRESTClient(RESTConfig(protocol="v1", timeout=10))
        headers = {"Authorization": f"Bearer {live_endpoint.token}"}
        seen: dict = {}
        by_list = await client.infer(
            live_endpoint.url, {"instances": rows}, model_name="cancer-api", headers=headers, response_headers=seen
        )
        by_record = await client.infer(
            live_endpoint.url, {"instances": records}, model_name="cancer-api", headers=headers
        )
        await client.close()
        return by_list, by_record, seen

    by_list, by_record, seen = asyncio.run(ask())
    expected = mlflow.pyfunc.load_model("models:/cancer/1").predict(
        pd.DataFrame(rows, columns=served_workspace.columns)
    )
    assert by_list["predictions"] == by_record["predictions"] == expected.tolist()
    assert all(len(p) == 2 and abs(sum(p) - 1) < 1e-9 for p in by_list["probabilities"])  # a column per class
    assert seen["x-model-version"] == "1"


def test_v2_with_kserve_client_reports_the_version_that_answered(
    live_endpoint: Endpoint, served_workspace: ServedWorkspace
) -> None:
    import_kserve()
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    rows = np.array(served_workspace.rows[:5])
    tensor = InferInput(name="features", shape=list(rows.shape), datatype="FP64")
    tensor.set_data_from_numpy(rows, binary_data=False)

    async def ask():  # type: ignore[no-untyped-def]
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=10))
        answer = await client.infer(
            live_endpoint.url, InferRequest(model_name="cancer-api", infer_inputs=[tensor], request_id="r1"),
            model_name="cancer-api", headers={"Authorization": f"Bearer {live_endpoint.token}"},
        )  # fmt: skip
        await client.close()
        return answer

    answer = asyncio.run(ask())
    assert answer.id == "r1" and answer.model_name == "cancer-api"
    predictions = answer.outputs[0]
    assert predictions.name == "predictions" and predictions.shape == [5]
    by_v1 = httpx.post(
        f"{live_endpoint.url}/v1/models/cancer-api:predict", json={"instances": rows.tolist()},
        headers={"Authorization": f"Bearer {live_endpoint.token}"},
    ).json()  # fmt: skip
    assert predictions.as_numpy().tolist() == by_v1["predictions"]


def test_v2_answer_carries_model_version_and_header(http: httpx.Client, served_workspace: ServedWorkspace) -> None:
    rows = served_workspace.rows[:2]
    answer = http.post(
        "/v2/models/cancer-api/infer",
        json={"inputs": [{"name": "x", "shape": [2, 30], "datatype": "FP64", "data": rows}]},
    )
    assert answer.status_code == 200
    assert answer.json()["model_version"] == "1" and answer.headers["x-model-version"] == "1"
    assert [o["name"] for o in answer.json()["outputs"]] == ["predictions", "probabilities"]


def test_metadata_comes_from_the_signature(http: httpx.Client, served_workspace: ServedWorkspace) -> None:
    metadata = http.get("/v2/models/cancer-api").json()
    assert [i["name"] for i in metadata["inputs"]] == served_workspace.columns
    assert metadata["versions"] == ["1"] and metadata["platform"] == "onnxruntime"


ROW = [1.0] * 30


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (b"{not json", {}, 400, "not valid JSON"),
        (b'{"instances": [[1, NaN]]}', {}, 400, "NaN and Infinity are not JSON"),
        (b'{"instances": []}', {}, 400, "'instances' is empty"),
        (b'{"instances": [[1, 2, 3]]}', {}, 400, "has 3 values; the model expects 30"),
        (b'{"instances": [{"mean radius": 1}]}', {}, 400, "missing column 'mean texture' and 28 more"),
        (b'{"instances": [{"mean radios": 1}]}', {}, 400, "unknown column 'mean radios' \\(did you mean 'mean radius'"),
        (b'{"instances": [["x"' + b", 1" * 29 + b"]]}", {}, 400, "column 'mean radius' must be a number, got a string"),
        (b'{"instances": [[1]]}', {"content-type": "text/csv"}, 415, "content type 'text/csv' is not supported"),
        (
            b'{"instances": [' + b",".join([b"[" + b",".join([b"1"] * 30) + b"]"] * 501) + b"]}",
            {},
            413,
            "batch of 501 rows",
        ),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field_never_echoing_it(
    http: httpx.Client, body: bytes, headers: dict, status: int, message: str
) -> None:
    answer = http.post(
        "/v1/models/cancer-api:predict", content=body, headers={"content-type": "application/json"} | headers
    )
    assert answer.status_code == status
    assert re.search(message, answer.json()["error"])


def test_a_body_over_the_limit_is_413_before_it_is_read(http: httpx.Client) -> None:
    answer = http.post(
        "/v1/models/cancer-api:predict", content=b" " * (11 * 1024 * 1024), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 413 and "limit of 10485760 bytes" in answer.json()["error"]


def test_wrong_model_name_is_404_with_the_right_one(http: httpx.Client) -> None:
    answer = http.post("/v1/models/cancer:predict", json={"instances": [ROW]})
    assert answer.status_code == 404
    assert "no model named 'cancer' here (did you mean 'cancer-api'?)" == answer.json()["error"]


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic abc", "Bearer"])
def test_requests_without_the_token_are_401_and_health_stays_open(
    live_endpoint: Endpoint, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(base_url=live_endpoint.url, headers=headers) as anonymous:
        assert anonymous.post("/v1/models/cancer-api:predict", json={"instances": [ROW]}).status_code == 401
        assert anonymous.get("/v2/models/cancer-api").status_code == 401
        assert anonymous.post("/v2/repository/models/cancer-api/unload").status_code == 401
        assert anonymous.get("/v2/health/ready").status_code == 200
        assert anonymous.get("/v2/health/live").status_code == 200
        assert anonymous.get("/v1/models/cancer-api").json()["ready"] is True


def test_metrics_count_answers_by_version_and_code(http: httpx.Client) -> None:
    http.post("/v1/models/cancer-api:predict", json={"instances": [ROW]})
    text = http.get("/metrics").text
    assert 'tessera_endpoint_requests_total{code="200",endpoint="cancer-api",model_version="1",protocol="v1"}' in text
    assert "tessera_endpoint_request_seconds_bucket" in text


payloads = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=31)
        | st.dictionaries(st.sampled_from(["instances", "inputs", "columns", "mean radius", "x"]), inner, max_size=3)
    ),
    max_leaves=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads, route=st.sampled_from(["/v1/models/cancer-api:predict", "/v2/models/cancer-api/infer"]))
def test_fuzzed_payloads_never_get_a_5xx(http: httpx.Client, payload: object, route: str) -> None:
    import json

    answer = http.post(route, content=json.dumps(payload, allow_nan=True), headers={"content-type": "application/json"})
    assert answer.status_code < 500, answer.text


def test_every_answered_request_is_logged_under_the_id_its_answer_carries_and_a_refused_one_is_not(
    live_endpoint: Endpoint, served_workspace: ServedWorkspace, http: httpx.Client
) -> None:
    """Through the front door and the writer process: plain V1 lists, a V1 record, a V2 request naming one
    output, kserve's client with its defaults (binary tensors), and a refused request."""
    from serving.prediction_log import predictions_folder
    from tests.serving.fixtures import wait_for_rows

    import_kserve()
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    rows = np.array(served_workspace.rows[:4]) * 1.001  # rows no other test sends
    columns = served_workspace.columns
    plain = http.post("/v1/models/cancer-api:predict", json={"instances": rows[:2].tolist()})
    record = http.post("/v1/models/cancer-api:predict", json={"instances": [dict(zip(columns, rows[2], strict=True))]})
    one_output = http.post("/v2/models/cancer-api/infer", json={
        "inputs": [{"name": "x", "shape": [1, 30], "datatype": "FP64", "data": rows[3].tolist()}],
        "outputs": [{"name": "probabilities"}]})  # fmt: skip
    refused = http.post("/v1/models/cancer-api:predict", json={"instances": [[1.0]]})
    assert refused.status_code == 400 and "x-request-id" not in refused.headers

    tensor = InferInput(name="features", shape=[1, 30], datatype="FP64")
    tensor.set_data_from_numpy(rows[:1] * 1.001)  # binary_data, as the client does by default

    async def ask():  # type: ignore[no-untyped-def]
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=10))
        answer = await client.infer(
            live_endpoint.url, InferRequest(model_name="cancer-api", infer_inputs=[tensor]), model_name="cancer-api",
            headers={"Authorization": f"Bearer {live_endpoint.token}"},
        )  # fmt: skip
        await client.close()
        return answer

    by_kserve = asyncio.run(ask())
    ids = [answer.headers["x-request-id"] for answer in (plain, record, one_output)]
    folder = predictions_folder(served_workspace.workspace.state_dir, "cancer-api")
    first = f"input:{columns[0]}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logged = wait_for_rows(folder, 1)
        ours = logged[logged["request_id"].astype(str).isin(ids) | np.isclose(logged[first], rows[0, 0] * 1.001)]
        if len(ours) == 5:
            break
        time.sleep(0.2)
    ours = ours.assign(request_id=ours["request_id"].astype(str)).sort_values(["request_id", "row"])
    assert len(ours) == 5 and ours["request_id"].nunique() == 4
    for request, sent in ((ids[0], rows[:2]), (ids[1], rows[2:3]), (ids[2], rows[3:4])):
        got = ours[ours["request_id"] == request]
        assert got[[f"input:{c}" for c in columns]].to_numpy().tolist() == sent.tolist()
    assert ours[ours["request_id"] == ids[0]]["output:predictions"].tolist() == plain.json()["predictions"]
    assert ours[ours["request_id"] == ids[1]]["output:probabilities:1"].tolist() == [
        record.json()["probabilities"][0][1]
    ]
    assert ours[ours["request_id"] == ids[2]]["output:predictions"].isna().all(), "only what was answered"
    kserve_row = ours[~ours["request_id"].isin(ids)]
    assert kserve_row["output:predictions"].tolist() == by_kserve.outputs[0].as_numpy().tolist()


def test_a_sampled_endpoint_gives_an_id_to_exactly_the_requests_it_logs(
    local_target: LocalProcessTarget, served_workspace: ServedWorkspace
) -> None:
    from serving.endpoints import EndpointRequest
    from serving.prediction_log import predictions_folder
    from tests.serving.fixtures import MODEL, wait_for_rows

    endpoint = local_target.deploy(EndpointRequest(name="sampled-api", model=f"{MODEL}@champion", log_sample_rate=0.3))
    try:
        client = httpx.Client(base_url=endpoint.url, headers={"Authorization": f"Bearer {endpoint.token}"}, timeout=10)
        answers = [
            client.post("/v1/models/sampled-api:predict", json={"instances": [row]})
            for row in served_workspace.rows[:120]
        ]
        assert all(answer.status_code == 200 for answer in answers)
        ids = {answer.headers["x-request-id"] for answer in answers if "x-request-id" in answer.headers}
        assert 15 <= len(ids) <= 60, "about 30 % drawn"
        folder = predictions_folder(served_workspace.workspace.state_dir, "sampled-api")
        logged = wait_for_rows(folder, len(ids))
        time.sleep(2.5)  # a batch more, were anything else to come
        logged = wait_for_rows(folder, len(ids))
        assert set(logged["request_id"].astype(str)) == ids
    finally:
        local_target.delete("sampled-api")
