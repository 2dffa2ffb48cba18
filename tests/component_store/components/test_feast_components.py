"""Feast components on the demo's feature repo: point-in-time training sets, online features (SQLite and Redis)."""

import shutil
import sqlite3
import uuid

import pandas as pd
import pytest
from kfp.dsl import Artifact

from component_store.components.feast_materialize import feast_materialize
from component_store.components.feast_training_set import feast_training_set
from serving.online_features import FeatureStoreError, get_online_features, open_feature_store
from studio.demo import DEMO_WORKSPACE

REPO = "projects/risk/features"


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A workspace holding a copy of the demo's feature repo, as components see it (TESSERA_HOME)."""
    shutil.copytree(DEMO_WORKSPACE / REPO, tmp_path / REPO, ignore=shutil.ignore_patterns("data"))
    monkeypatch.setenv("TESSERA_HOME", str(tmp_path))
    return tmp_path


def feature_rows(workspace, rows):
    """Feature rows for player_activity: every feature 0 except the ones given per row."""
    names = [
        f.name for f in open_feature_store(workspace / REPO, apply=True).get_feature_view("player_activity").features
    ]
    frame = pd.DataFrame([{name: 0 for name in names} | row for row in rows])
    frame["event_timestamp"] = pd.to_datetime(frame["event_timestamp"]).astype("datetime64[us]")
    return frame


def test_feast_training_set_is_point_in_time_correct(workspace, dataset, output):
    features = feature_rows(
        workspace,
        [
            {"player_id": 1, "event_timestamp": "2026-02-01", "login_count_7d": 3, "amount_sum_30d": 9.5},
            {"player_id": 1, "event_timestamp": "2026-02-08", "login_count_7d": 40, "amount_sum_30d": 99.0},
            {"player_id": 2, "event_timestamp": "2026-02-01", "login_count_7d": 7, "amount_sum_30d": 1.0},
        ],
    )
    view = output("view", Artifact)
    feast_materialize(
        features=dataset(features, "features"), feature_view=view, feature_repo=REPO, view="player_activity"
    )
    assert view.metadata["rows"] == 3 and view.metadata["online_store"] == "sqlite"
    labels = pd.DataFrame(
        {
            "player_id": [1, 1, 2, 2],
            # player 1 is labelled between its two snapshots and after both; player 2 before its only one
            "event_timestamp": pd.to_datetime(["2026-02-05", "2026-02-09", "2026-01-20", "2026-02-02"]),
            "is_cheater": [1, 0, 0, 1],
        }
    )
    training = output("training")
    feast_training_set(
        entities=dataset(labels, "labels"), feature_view=view, training_set=training,
        features=["login_count_7d", "player_activity:amount_sum_30d"],
    )  # fmt: skip
    got = pd.read_parquet(training.path)
    assert list(got.columns) == ["player_id", "event_timestamp", "is_cheater", "login_count_7d", "amount_sum_30d"]
    assert got["is_cheater"].tolist() == [1, 0, 0, 1]  # the labels' order is kept
    assert got["login_count_7d"].tolist()[:2] == [3, 40]  # the 2026-02-08 value must not leak into 2026-02-05
    assert pd.isna(got["login_count_7d"].iloc[2])  # nothing known yet on 2026-01-20
    assert got["amount_sum_30d"].iloc[3] == 1.0
    assert got["event_timestamp"].tolist() == labels["event_timestamp"].tolist()


def test_feast_materialize_loads_the_online_store_and_features_read_back_in_model_order(workspace, dataset, output):
    features = feature_rows(
        workspace,
        [
            {"player_id": 5, "event_timestamp": "2026-02-01", "login_count_7d": 3, "score_mean_30d": 0.5},
            {"player_id": 5, "event_timestamp": "2026-02-08", "login_count_7d": 11, "score_mean_30d": 0.9},
            {"player_id": 6, "event_timestamp": "2026-02-08", "login_count_7d": 2, "score_mean_30d": 0.1},
        ],
    )
    feast_materialize(
        features=dataset(features), feature_view=output("view", Artifact), feature_repo=REPO, view="player_activity"
    )
    # DataFrame.to_sql on any sqlite3 connection swaps sqlite3's process-wide datetime codecs for ones
    # that break Feast's SQLite store; materialising and reading online features must survive it.
    pd.DataFrame({"one": [1]}).to_sql("t", sqlite3.connect(":memory:"))
    online = get_online_features(
        REPO, [6, 5, 404], ["player_activity"], feature_order=["score_mean_30d", "login_count_7d"]
    )
    assert list(online.columns) == ["player_id", "score_mean_30d", "login_count_7d"]
    assert online["player_id"].tolist() == [6, 5, 404]
    assert online["login_count_7d"].tolist()[:2] == [2, 11]  # the latest value per player
    assert online["score_mean_30d"].tolist()[:2] == [0.1, 0.9] and online.iloc[2].isna()[1:].all()
    # replace (the default) rewrites the source: a rerun does not pile up rows
    feast_materialize(
        features=dataset(features), feature_view=output("view2", Artifact), feature_repo=REPO, view="player_activity"
    )
    assert len(pd.read_parquet(workspace / REPO / "data" / "player_activity.parquet")) == 3


def test_online_features_on_redis(workspace, dataset, output, redis_url):
    config = workspace / REPO / "feature_store.yaml"
    project = f"risk_{uuid.uuid4().hex[:8]}"  # Redis keys are per project: no clash with other runs
    text = config.read_text().replace("project: risk", f"project: {project}")
    text = text.replace(
        "  type: sqlite\n  path: data/online_store.db", f'  type: redis\n  connection_string: "{redis_url}"'
    )
    config.write_text(text)
    features = feature_rows(workspace, [{"player_id": 9, "event_timestamp": "2026-02-08", "report_count_30d": 4}])
    view = output("view", Artifact)
    feast_materialize(features=dataset(features), feature_view=view, feature_repo=REPO, view="player_activity")
    assert view.metadata["online_store"] == "redis"
    online = get_online_features(REPO, [9], ["player_activity:report_count_30d", "player_activity:login_count_7d"])
    assert online.to_dict("records") == [{"player_id": 9, "report_count_30d": 4, "login_count_7d": 0}]
    import redis

    client = redis.Redis.from_url(f"redis://{redis_url}")
    for key in client.scan_iter(f"*{project}*"):
        client.delete(key)


def test_unknown_views_and_features_get_did_you_mean(workspace, dataset, output):
    features = feature_rows(workspace, [{"player_id": 1, "event_timestamp": "2026-02-01"}])
    with pytest.raises(
        FeatureStoreError, match="no feature view 'player_activty' \\(did you mean 'player_activity'\\?\\)"
    ):
        feast_materialize(
            features=dataset(features), feature_view=output("v", Artifact), feature_repo=REPO, view="player_activty"
        )
    with pytest.raises(
        FeatureStoreError, match="has no feature 'login_count_7' \\(did you mean 'login_count_7d'\\?\\)"
    ):
        get_online_features(REPO, [1], ["player_activity:login_count_7"])
    with pytest.raises(ValueError, match="feature view 'player_activity': no column 'login_count_7d'"):
        feast_materialize(
            features=dataset(features.drop(columns="login_count_7d")), feature_view=output("v", Artifact),
            feature_repo=REPO, view="player_activity",
        )  # fmt: skip
    with pytest.raises(FeatureStoreError, match="needs features the request did not ask Feast for: 'score_mean_7d'"):
        get_online_features(REPO, [1], ["player_activity:login_count_7d"], feature_order=["score_mean_7d"])
    with pytest.raises(FeatureStoreError, match="No Feast feature repo at .*nowhere: it needs a feature_store.yaml"):
        get_online_features("nowhere", [1], ["player_activity"])
