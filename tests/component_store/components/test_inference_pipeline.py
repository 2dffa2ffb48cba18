"""Raw rows in, the same numbers as training: the fitted transforms recorded by fill_missing,
encode_categorical, scale_numeric and select_columns, passed through train_test_split and the
trainer, composed by register_model and applied by the server before the model.

Each case runs the real components in a row on the demo's player table (missing values, two text
columns), registers the model with raw inputs, then scores the test rows *as they were before any
transform* through the served version, and compares with the bare model on the workflow's own
transformed test table (to 1e-9). Rows with missing values and countries never seen in training
are scored by the transform's fitted rule.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import Artifact, Metrics, Model

from component_store.components.encode_categorical import encode_categorical
from component_store.components.fill_missing import fill_missing
from component_store.components.register_model import register_model
from component_store.components.scale_numeric import scale_numeric
from component_store.components.select_columns import select_columns
from component_store.components.train_classifier import train_classifier
from component_store.components.train_lightgbm import train_lightgbm
from component_store.components.train_test_split import train_test_split
from component_store.runtime.player_risk import player_risk_table
from serving.payloads import BadRequest
from serving.served_model import load_served_model

pytestmark = pytest.mark.slow
CHAINS = {
    "fill+encode (the demo)": ["fill", "encode"],
    "fill+encode+scale": ["fill", "encode", "scale"],
    "select+fill+ordinal": ["select", "fill", "ordinal"],
}


def raw_players(rows: int = 600) -> pd.DataFrame:
    frame = player_risk_table(rows, seed=3)
    frame.loc[frame.index % 9 == 0, "avg_session_minutes"] = np.nan  # missing values the fill step learns about
    frame.loc[frame.index % 13 == 0, "platform"] = None
    return frame


def run_chain(steps: list[str], raw: pd.DataFrame, dataset, output, label: str = "is_cheater") -> Artifact:
    table = dataset(raw, "raw")
    for number, step in enumerate(steps):
        out = output(f"t{number}")
        if step == "fill":
            fill_missing(table=table, filled=out, strategy="median")
        elif step in ("encode", "ordinal"):
            method = "onehot" if step == "encode" else "ordinal"
            encode_categorical(table=table, encoded=out, method=method, exclude=["player_id", label])
        elif step == "scale":
            scale_numeric(table=table, scaled=out, exclude=["player_id", label])
        elif step == "select":
            select_columns(table=table, selected=out, columns=["headshot_ratio", "account_age_days"], drop=True)
        table = out
    return table


@pytest.mark.parametrize("chain", list(CHAINS))
def test_raw_rows_score_like_the_transformed_test_table(mlflow_env, dataset, output, chain):
    raw = raw_players()
    transformed = run_chain(CHAINS[chain], raw, dataset, output)
    train, test = output("train"), output("test")
    train_test_split(table=transformed, train=train, test=test, label="is_cheater", test_size=0.3)
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_classifier(
        train=train, model=model, metrics=metrics, label="is_cheater", family="hist_gradient_boosting",
        drop_columns=["player_id"],
    )  # fmt: skip
    registered = output("registered", Artifact)
    register_model(model=model, metrics=metrics, registered=registered, model_name="raw-model")
    summary = json.loads(open(registered.path).read())
    served = load_served_model("raw-model", summary["version"])
    assert served.raw_inputs and "country" in served.schema.columns and "player_id" not in served.schema.columns

    test_table = pd.read_parquet(test.path)
    bare = mlflow_sklearn_model(model)
    features = test_table[model.metadata["features"]].astype("float64")
    expected = bare.predict_proba(features)
    raw_rows = raw.set_index("player_id").loc[test_table["player_id"]].reset_index()
    requests = json.loads(raw_rows[list(served.schema.columns)].to_json(orient="records"))  # as a caller sends them
    assert any(r["avg_session_minutes"] is None for r in requests), "rows with missing values are part of the check"
    native = load_served_model("raw-model", summary["version"], compile_models=False)
    exact = native.predict(requests)  # the pipeline itself adds no error: equal to 1e-9
    np.testing.assert_allclose(exact["probabilities"], expected, rtol=0, atol=1e-9)
    assert exact["predictions"].tolist() == bare.predict(features).tolist()
    compiled = served.predict(requests)  # the compiled model under it: float32 trees, within its 1e-5 check
    assert served.predictor.adapter == "compiled"
    np.testing.assert_allclose(compiled["probabilities"], expected, rtol=0, atol=1e-5)


def test_unseen_categories_and_missing_values_follow_the_fitted_rule(mlflow_env, dataset, output):
    raw = raw_players()
    transformed = run_chain(["fill", "encode"], raw, dataset, output)
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_lightgbm(train=transformed, model=model, metrics=metrics, label="is_cheater", drop_columns=["player_id"])
    register_model(model=model, metrics=metrics, registered=output("registered", Artifact), model_name="rules")
    served = load_served_model("rules", "1")
    row = raw.drop(columns=["player_id", "is_cheater"]).iloc[0].to_dict()
    unseen = row | {"country": "Atlantis", "platform": None, "avg_session_minutes": None}
    answer = served.predict([unseen])

    filled = {step["kind"]: step for step in model.metadata["preprocessing"]}["fill"]["values"]
    encoded = pd.DataFrame([row | {"avg_session_minutes": filled["avg_session_minutes"]}])
    for column in model.metadata["features"]:
        if "=" in column:
            name, value = column.split("=", 1)
            # Atlantis was never seen: no country column is 1 (training kept every country, so there is no `other`);
            # a missing platform is the category `missing` that training learnt from its own missing values
            encoded[column] = float(value == "missing") if name == "platform" else 0.0
    expected = mlflow_sklearn_model(model).predict_proba(encoded[model.metadata["features"]].astype("float64"))
    np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-5)  # compiled: float32 trees

    with pytest.raises(BadRequest, match="unknown column 'contry' \\(did you mean 'country'\\?\\)"):
        served.predict([row | {"contry": "DE"}])
    with pytest.raises(BadRequest, match="column 'logins_7d' takes numbers"):
        served.predict([row | {"logins_7d": "many"}])
    with pytest.raises(BadRequest, match="column 'win_rate' is missing in a row, and training never saw it missing"):
        served.predict([row | {"win_rate": None}])


def test_a_step_that_cannot_run_at_serving_time_stops_registration_with_its_name(mlflow_env, dataset, output):
    table = dataset(raw_players(), "raw")
    filled = output("filled")
    fill_missing(table=table, filled=filled, strategy="drop_rows")
    model, metrics = output("model", Model), output("metrics", Metrics)
    encoded = output("encoded")
    encode_categorical(table=filled, encoded=encoded, exclude=["player_id", "is_cheater"])
    train_classifier(train=encoded, model=model, metrics=metrics, label="is_cheater", drop_columns=["player_id"])
    with pytest.raises(ValueError, match="fill_missing drops rows .* set raw_inputs to false"):
        register_model(model=model, metrics=metrics, registered=output("r", Artifact), model_name="dropper")
    register_model(
        model=model, metrics=metrics, registered=output("r2", Artifact), model_name="dropper", raw_inputs=False
    )
    served = load_served_model("dropper", "1")
    assert not served.raw_inputs and "country=DE" in served.schema.columns


def mlflow_sklearn_model(model: Model):
    import mlflow.sklearn

    return mlflow.sklearn.load_model(model.path)


@pytest.mark.parametrize("task", ["multiclass", "regression"])
def test_raw_rows_for_a_multiclass_and_a_regression_model(mlflow_env, dataset, output, task):
    """Not the demo's binary label: three risk tiers (LightGBM, text labels), and spend (a regressor)."""
    raw = raw_players()
    label = "tier" if task == "multiclass" else "payment_amount_30d"
    if task == "multiclass":
        raw["tier"] = np.array(["low", "mid", "high"])[np.minimum(raw["reports_received_30d"], 2)]
    transformed = run_chain(["fill", "encode", "scale"], raw.drop(columns="is_cheater"), dataset, output, label)
    train, test = output("train"), output("test")
    train_test_split(table=transformed, train=train, test=test, label=label if task == "multiclass" else "",
                     stratify=task == "multiclass", test_size=0.3)  # fmt: skip
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_lightgbm(
        train=train, model=model, metrics=metrics, label=label, drop_columns=["player_id"], n_estimators=40,
        task="classification" if task == "multiclass" else "regression",
    )  # fmt: skip
    register_model(model=model, metrics=metrics, registered=output("registered", Artifact), model_name=f"raw-{task}")
    native = load_served_model(f"raw-{task}", "1", compile_models=False)
    assert label not in native.schema.columns

    test_table = pd.read_parquet(test.path)
    features = test_table[model.metadata["features"]].astype("float64")
    bare = mlflow_sklearn_model(model)
    requests = json.loads(
        raw.set_index("player_id").loc[test_table["player_id"]].reset_index()[list(native.schema.columns)]
        .to_json(orient="records")
    )  # fmt: skip
    answer = native.predict(requests)
    if task == "multiclass":
        np.testing.assert_allclose(answer["probabilities"], bare.predict_proba(features), rtol=0, atol=1e-9)
        assert answer["predictions"].tolist() == bare.predict(features).tolist()
    else:
        assert list(answer) == ["predictions"]
        np.testing.assert_allclose(answer["predictions"], bare.predict(features), rtol=1e-9, atol=1e-9)
