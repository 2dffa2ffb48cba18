"""The rest of the Open Inference Protocol on a live endpoint: binary tensor data both ways with kserve's own
client at its defaults, versioned routes, the `outputs` filter, datatypes checked against the data; management
routes closed to an endpoint token; hostile names answered with a short body."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np
import pytest

from serving.endpoints import Endpoint
from serving.model_server import import_kserve
from tests.serving.fixtures import ServedWorkspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def http(live_endpoint: Endpoint) -> httpx.Client:
    return httpx.Client(
        base_url=live_endpoint.url, headers={"Authorization": f"Bearer {live_endpoint.token}"}, timeout=10
    )


def by_v1(http: httpx.Client, rows: list) -> dict:
    return http.post("/v1/models/cancer-api:predict", json={"instances": rows}).json()


@pytest.mark.parametrize("binary_output", [False, True])
def test_kserve_client_with_binary_tensor_data_gets_the_models_answer(
    live_endpoint: Endpoint, served_workspace: ServedWorkspace, http: httpx.Client, binary_output: bool
) -> None:
    import_kserve()
    from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig

    rows = np.array(served_workspace.rows[:7], dtype="float32")
    tensor = InferInput(name="features", shape=list(rows.shape), datatype="FP32")
    tensor.set_data_from_numpy(rows)  # binary_data=True: the client's default
    parameters = {"binary_data_output": True} if binary_output else None

    async def ask():  # type: ignore[no-untyped-def]
        client = InferenceRESTClient(RESTConfig(protocol="v2", timeout=10))
        request = InferRequest(model_name="cancer-api", infer_inputs=[tensor], parameters=parameters)
        answer = await client.infer(
            live_endpoint.url,
            request,
            model_name="cancer-api",
            headers={"Authorization": f"Bearer {live_endpoint.token}"},
        )
        await client.close()
        return answer

    answer = asyncio.run(ask())
    outputs = {o.name: o.as_numpy() for o in answer.outputs}
    expected = by_v1(http, rows.astype("float64").tolist())
    assert outputs["predictions"].tolist() == expected["predictions"]
    assert np.allclose(outputs["probabilities"], expected["probabilities"], atol=1e-12)


def test_versioned_routes_answer_for_the_versions_served(http: httpx.Client, served_workspace: ServedWorkspace) -> None:
    rows = served_workspace.rows[:2]
    body = {"inputs": [{"name": "x", "shape": [2, 30], "datatype": "FP64", "data": rows}]}
    answer = http.post("/v2/models/cancer-api/versions/1/infer", json=body)
    assert answer.status_code == 200 and answer.headers["x-model-version"] == "1"
    assert http.get("/v2/models/cancer-api/versions/1").json()["versions"] == ["1"]
    missing = http.post("/v2/models/cancer-api/versions/99/infer", json=body)
    assert missing.status_code == 404 and "serves 'cancer-api' versions 1" in missing.json()["error"]


def test_the_outputs_filter_and_datatypes_checked_against_the_data(
    http: httpx.Client, served_workspace: ServedWorkspace
) -> None:
    rows = served_workspace.rows[:3]
    tensor = {"name": "x", "shape": [3, 30], "datatype": "FP64", "data": rows}
    only = http.post("/v2/models/cancer-api/infer", json={"inputs": [tensor], "outputs": [{"name": "probabilities"}]})
    assert [o["name"] for o in only.json()["outputs"]] == ["probabilities"]
    unknown = http.post("/v2/models/cancer-api/infer", json={"inputs": [tensor], "outputs": [{"name": "logits"}]})
    assert unknown.status_code == 400 and "outputs are: predictions, probabilities" in unknown.json()["error"]
    fractions = http.post("/v2/models/cancer-api/infer", json={"inputs": [tensor | {"datatype": "INT64"}]})
    assert fractions.status_code == 400 and "is INT64 but holds a fraction" in fractions.json()["error"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/repository/models/cancer-api/unload"),
        ("POST", "/v2/repository/models/cancer-api/load"),
        ("POST", "/v2/repository/index"),
        ("GET", "/docs"),
        ("GET", "/redoc"),
    ],
)
def test_management_routes_are_not_reachable_with_an_endpoint_token(http: httpx.Client, method: str, path: str) -> None:
    refused = http.request(method, path)
    assert refused.status_code == 404, refused.text
    assert http.get("/v2/models/cancer-api/ready").status_code == 200, "the model is still loaded"


def test_a_20_kb_column_name_gets_a_short_answer(http: httpx.Client) -> None:
    name = "x" * 20_000
    answer = http.post("/v1/models/cancer-api:predict", json={"instances": [{name: 1.0}]})
    assert answer.status_code == 400
    assert len(answer.content) < 2_048 and "x" * 65 not in answer.text and "unknown column 'xxxx" in answer.text
    wrong_model = http.post(f"/v1/models/{name}:predict", json={"instances": [[1.0]]})
    assert wrong_model.status_code == 404 and len(wrong_model.content) < 2_048


def test_metadata_describes_what_infer_returns(http: httpx.Client, served_workspace: ServedWorkspace) -> None:
    metadata = http.get("/v2/models/cancer-api").json()
    answer = http.post(
        "/v2/models/cancer-api/infer",
        json={"inputs": [{"name": "x", "shape": [2, 30], "datatype": "FP64", "data": served_workspace.rows[:2]}]},
    ).json()
    described = {o["name"]: (o["datatype"], o["shape"][1:]) for o in metadata["outputs"]}
    returned = {o["name"]: (o["datatype"], o["shape"][1:]) for o in answer["outputs"]}
    assert described == returned == {"predictions": ("INT64", []), "probabilities": ("FP64", [2])}
    assert metadata["parameters"]["classes"] == [0, 1]  # the order of the probability columns


def test_the_openapi_document_is_valid_and_names_the_models_columns(
    http: httpx.Client, served_workspace: ServedWorkspace
) -> None:
    from openapi_spec_validator import validate

    document = http.get("/openapi.json").json()
    validate(document)
    row = document["components"]["schemas"]["Row"]["oneOf"][0]
    assert list(row["properties"]) == served_workspace.columns and row["additionalProperties"] is False
    answer = document["components"]["schemas"]["V1Answer"]["properties"]
    assert answer["predictions"]["items"]["type"] == "integer"
    assert answer["probabilities"]["items"] == {
        "type": "array",
        "items": {"type": "number"},
        "minItems": 2,
        "maxItems": 2,
    }
    assert httpx.get(f"{str(http.base_url).rstrip('/')}/openapi.json").status_code == 401, (
        "the document needs the token"
    )
