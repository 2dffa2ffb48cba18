"""Score by id: a request carries a player id (and the request-time column `platform`); the endpoint reads
the player's features from Feast's online store (SQLite and the Redis that runs here), applies the
model's inference pipeline and scores. Same numbers as the bare model on the workflow's transformed
rows; an unknown id is a 404 naming it; a feature the store lacks is reported, or refused when the
model has no fitted rule for it — never a silent zero."""

from __future__ import annotations

import json
import shutil
import uuid

import numpy as np
import pandas as pd
import pytest
from kfp.dsl import Artifact, Metrics, Model

from component_store.components.encode_categorical import encode_categorical
from component_store.components.fill_missing import fill_missing
from component_store.components.register_model import register_model
from component_store.components.train_classifier import train_classifier
from serving.endpoints import FeatureLookup
from serving.feature_lookup import MISSING_FEATURES
from serving.inference_pipeline import apply_steps
from serving.online_features import FeatureStoreError, open_feature_store
from serving.payloads import BadRequest
from serving.served_model import load_served_model
from studio.demo import DEMO_WORKSPACE

pytestmark = pytest.mark.slow
REPO = "projects/risk/features"
FEATURES = ["login_count_7d", "score_mean_7d", "report_count_30d"]


def training_table(players: int = 400) -> pd.DataFrame:
    """Features as the feature view has them, a request-time column, a label; login counts sometimes missing."""
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {
            "player_id": np.arange(players),
            "login_count_7d": rng.integers(0, 40, players).astype("float64"),
            "score_mean_7d": rng.normal(0.5, 0.2, players),
            "report_count_30d": rng.poisson(1.0, players),
            "platform": rng.choice(["pc", "ios", "android"], players),
        }
    )
    frame.loc[frame.index % 11 == 0, "login_count_7d"] = np.nan
    risk = frame["report_count_30d"] * 0.8 + frame["score_mean_7d"] * 2 + (frame["platform"] == "pc") * 0.5
    frame["is_cheater"] = (risk + rng.normal(0, 0.5, players) > 2.2).astype("int64")
    return frame


@pytest.fixture(params=["sqlite", "redis"])
def feature_repo(request, tmp_path, monkeypatch):
    """The demo's feature repo in a workspace, on SQLite or on Redis (a project of its own per test)."""
    shutil.copytree(DEMO_WORKSPACE / REPO, tmp_path / REPO, ignore=shutil.ignore_patterns("data"))
    monkeypatch.setenv("TESSERA_HOME", str(tmp_path))
    project = None
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        project = f"byid_{uuid.uuid4().hex[:8]}"
        config = tmp_path / REPO / "feature_store.yaml"
        text = config.read_text().replace("project: risk", f"project: {project}")
        text = text.replace(
            "  type: sqlite\n  path: data/online_store.db", f'  type: redis\n  connection_string: "{url}"'
        )
        config.write_text(text)
    yield tmp_path / REPO
    if project is not None:
        import redis

        client = redis.Redis.from_url(f"redis://{request.getfixturevalue('redis_url')}")
        for key in client.scan_iter(f"*{project}*"):
            client.delete(key)


def materialize(repo, table: pd.DataFrame) -> None:
    """Every feature of player_activity online: the table's where it has them, 0 elsewhere."""
    store = open_feature_store(repo, apply=True)
    names = [f.name for f in store.get_feature_view("player_activity").features]
    online = pd.DataFrame({name: 0 for name in names if name not in table}, index=table.index)
    online = pd.concat([table[["player_id", *FEATURES]], online], axis=1)
    online["login_count_7d"] = online["login_count_7d"].astype("Int64")  # a missing count is stored as no value
    online["event_timestamp"] = pd.Timestamp("2026-12-01")
    store.write_to_online_store("player_activity", online)


@pytest.fixture
def registered_model(mlflow_env, dataset, output):
    """fill (median) → encode (platform) → HistGradientBoosting, registered with raw inputs."""
    table = training_table()
    filled, encoded = output("filled"), output("encoded")
    fill_missing(table=dataset(table, "raw"), filled=filled, strategy="median")
    encode_categorical(table=filled, encoded=encoded, exclude=["player_id", "is_cheater"])
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_classifier(
        train=encoded, model=model, metrics=metrics, label="is_cheater", family="hist_gradient_boosting",
        drop_columns=["player_id"],
    )  # fmt: skip
    registered = output("registered", Artifact)
    register_model(model=model, metrics=metrics, registered=registered, model_name="by-id")
    import mlflow.sklearn

    return table, model, mlflow.sklearn.load_model(model.path), json.loads(open(registered.path).read())["version"]


def test_an_id_and_a_request_column_score_like_the_bare_model_on_the_same_row(feature_repo, registered_model):
    table, model, bare, version = registered_model
    materialize(feature_repo, table)
    lookup = FeatureLookup(repo=REPO, views=("player_activity",), entity="player_id")
    served = load_served_model("by-id", version, features=lookup, compile_models=False)
    assert served.schema.columns == ("player_id", "platform"), "the request carries the id and the request column"
    assert served.lookup.from_store == tuple(FEATURES)

    players = [1, 7, 22, 33, 5]  # 22 and 33: login count missing in the store (filled by training's median)
    requests = [{"player_id": p, "platform": "pc" if p % 2 else "android"} for p in players]
    answer = served.predict(requests)

    raw = table.set_index("player_id").loc[players, FEATURES].reset_index()
    raw["platform"] = [r["platform"] for r in requests]
    features = apply_steps(raw, model.metadata["preprocessing"])[model.metadata["features"]].astype("float64")
    np.testing.assert_allclose(answer["probabilities"], bare.predict_proba(features), rtol=0, atol=1e-9)
    assert answer[MISSING_FEATURES].tolist() == ["", "", "login_count_7d", "login_count_7d", ""]

    compiled = load_served_model("by-id", version, features=lookup)
    assert compiled.predictor.adapter == "compiled"
    np.testing.assert_allclose(compiled.predict(requests)["probabilities"], answer["probabilities"], atol=1e-5)


def test_unknown_ids_missing_features_and_wrong_columns_are_refused_by_name(feature_repo, registered_model):
    table, _, _, version = registered_model
    gaps = table.head(20).copy()
    gaps.loc[3, "score_mean_7d"] = np.nan  # training never saw this feature missing: no rule to fill it
    materialize(feature_repo, gaps)
    served = load_served_model("by-id", version, features=FeatureLookup(repo=REPO, views=("player_activity",)))

    with pytest.raises(BadRequest, match="unknown player_id '404404': the online store has no features") as unknown:
        served.predict([{"player_id": 1, "platform": "pc"}, {"player_id": 404404, "platform": "pc"}])
    assert unknown.value.status == 404
    with pytest.raises(BadRequest, match="player_id '3' has no online value for 'score_mean_7d'") as missing:
        served.predict([{"player_id": 3, "platform": "pc"}])
    assert missing.value.status == 422
    with pytest.raises(BadRequest, match="'login_count_7d' is read from the feature store"):
        served.predict([{"player_id": 1, "platform": "pc", "login_count_7d": 3}])
    with pytest.raises(BadRequest, match="unknown column 'platfrom' \\(did you mean 'platform'\\?\\)"):
        served.predict([{"player_id": 1, "platfrom": "pc"}])
    with pytest.raises(BadRequest, match="'player_id' takes whole numbers"):
        served.predict([{"player_id": "1", "platform": "pc"}])
    with pytest.raises(BadRequest, match="has no 'player_id': this endpoint scores by player_id"):
        served.predict([{"platform": "pc"}])


def test_a_lookup_that_cannot_serve_the_model_is_refused_at_load(feature_repo, registered_model):
    _, _, _, version = registered_model
    open_feature_store(feature_repo, apply=True)
    with pytest.raises(FeatureStoreError, match="keyed by player_id, not 'account_id'.*--entity player_id"):
        load_served_model(
            "by-id", version, features=FeatureLookup(repo=REPO, views=("player_activity",), entity="account_id")
        )
    with pytest.raises(FeatureStoreError, match="no feature view 'player_activty' \\(did you mean 'player_activity'"):
        load_served_model("by-id", version, features=FeatureLookup(repo=REPO, views=("player_activty",)))
