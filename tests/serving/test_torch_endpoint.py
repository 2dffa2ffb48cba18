"""A PyTorch model from train_torch_tabular served like any other: V1 and V2 over HTTP on a local endpoint,
JSON integers accepted for its double columns, and integer columns enforced for pyfunc models."""

from __future__ import annotations

import httpx
import numpy as np
import pytest
from kfp.dsl import Dataset, Metrics, Model

from component_store.components.train_torch_tabular import train_torch_tabular
from serving.endpoints import EndpointRequest
from tests.serving.fixtures import ServedWorkspace

pytestmark = pytest.mark.slow


def test_a_torch_model_answers_v1_and_v2_like_its_pyfunc(served_workspace: ServedWorkspace, local_target, tmp_path):
    import mlflow
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["visits"] = np.arange(len(frame)) % 7  # an integer column: the signature says long
    train = Dataset(uri=str(tmp_path / "train.parquet"))
    frame.to_parquet(train.path, index=False)
    model = Model(uri=str(tmp_path / "model"))
    train_torch_tabular(
        train=train, model=model, metrics=Metrics(uri=str(tmp_path / "m")), label="target", epochs=30, patience=5
    )
    version = str(mlflow.register_model(model.metadata["model_uri"], "cancer-mlp").version)
    endpoint = local_target.deploy(EndpointRequest(name="mlp-api", model=f"cancer-mlp/{version}"))
    try:
        features = frame.drop(columns="target").head(5)
        expected = mlflow.pyfunc.load_model(model.path).predict(features.astype("float64"))
        http = httpx.Client(base_url=endpoint.url, headers={"Authorization": f"Bearer {endpoint.token}"}, timeout=30)
        v1 = http.post("/v1/models/mlp-api:predict", json={"instances": features.to_dict("records")})
        assert v1.status_code == 200 and v1.headers["x-model-version"] == version
        # the contract: labels under predictions, a probability per class (the pyfunc gives P(second class))
        assert v1.json()["predictions"] == (expected > 0.5).astype(int).tolist()
        np.testing.assert_allclose(np.asarray(v1.json()["probabilities"])[:, 1], expected, rtol=1e-6)
        tensors = [
            {"name": c, "shape": [5], "datatype": "INT64" if c == "visits" else "FP64", "data": features[c].tolist()}
            for c in features.columns
        ]
        v2 = http.post("/v2/models/mlp-api/infer", json={"inputs": tensors})
        assert v2.status_code == 200, v2.text
        probabilities = next(o for o in v2.json()["outputs"] if o["name"] == "probabilities")
        assert probabilities["shape"] == [5, 2]
        np.testing.assert_allclose(np.reshape(probabilities["data"], (5, 2))[:, 1], expected, rtol=1e-6)
    finally:
        local_target.delete("mlp-api")


def test_pyfunc_frames_take_the_signature_types_and_refuse_fractions_in_integer_columns():
    from serving.payloads import BadRequest, FeatureSchema
    from serving.predictor import typed_frame

    schema = FeatureSchema(columns=("visits", "spend", "vip"), kinds=("long", "double", "boolean"))
    frame = typed_frame(np.array([[3.0, 9.5, 1.0], [0.0, 0.0, 0.0]]), schema)
    assert frame.dtypes.astype(str).tolist() == ["int64", "float64", "bool"]
    assert frame["visits"].tolist() == [3, 0] and frame["vip"].tolist() == [True, False]
    with pytest.raises(BadRequest, match="column 'visits' takes whole numbers"):
        typed_frame(np.array([[3.5, 1.0, 0.0]]), schema)
