"""Data and models in object storage, against a real S3-compatible server on loopback (moto's server,
from PyPI): `load_table` reads s3:// URLs through fsspec, a trainer's MLflow artifacts go to an
s3:// location, and the registered version loads back from there for serving. Credentials come
from the environment and never appear in what a component prints."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from kfp.dsl import Artifact, Dataset, Metrics, Model

from tests.conftest import S3_SECRET as SECRET

pytestmark = pytest.mark.slow


def test_load_table_reads_s3_urls_in_every_format(s3, output, capsys) -> None:
    import boto3

    from component_store.components.load_table import load_table

    frame = pd.DataFrame({"player_id": ["p1", "p2", "p3"], "spend": [1.5, None, 7.0]})
    client = boto3.client("s3")
    client.put_object(Bucket="risk-data", Key="players.csv", Body=frame.to_csv(index=False).encode())
    client.put_object(
        Bucket="risk-data", Key="players.jsonl", Body=frame.to_json(orient="records", lines=True).encode()
    )
    client.put_object(Bucket="risk-data", Key="players.parquet", Body=frame.to_parquet(index=False))
    for key in ("players.csv", "players.jsonl", "players.parquet"):
        table = output(key.replace(".", "-"), Dataset)
        load_table(table=table, path=f"s3://risk-data/{key}")
        got = pd.read_parquet(table.path)
        assert got["player_id"].tolist() == ["p1", "p2", "p3"] and got["spend"].isna().tolist() == [False, True, False]
    with pytest.raises(ValueError, match="no file at 's3://risk-data/missing.parquet'"):
        load_table(table=output("missing", Dataset), path="s3://risk-data/missing.parquet")
    printed = capsys.readouterr()
    assert SECRET not in printed.out + printed.err


def test_model_artifacts_go_to_s3_and_the_registered_version_serves_from_there(s3, mlflow_env, output, monkeypatch):
    import boto3

    from component_store.components.register_model import register_model
    from component_store.components.sample_dataset import sample_dataset
    from component_store.components.train_classifier import train_classifier
    from serving.served_model import load_served_model

    monkeypatch.setenv("TESSERA_MLFLOW_ARTIFACTS", "s3://risk-data/mlartifacts")
    monkeypatch.setenv("TESSERA_WORKFLOW", "risk/cloud")  # an experiment of its own: its artifacts on S3
    players = output("players", Dataset)
    sample_dataset(table=players, rows=300)
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_classifier(
        train=players, model=model, metrics=metrics, label="is_cheater", n_estimators=10,
        drop_columns=["player_id", "country", "platform"],
    )  # fmt: skip
    registered = output("registered", Artifact)
    register_model(model=model, metrics=metrics, registered=registered, model_name="cloud-model", raw_inputs=False)
    keys = [o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="risk-data")["Contents"]]
    assert any(k.startswith("mlartifacts/risk__cloud/") and k.endswith("MLmodel") for k in keys), keys

    served = load_served_model("cloud-model", json.loads(open(registered.path).read())["version"])
    rows = pd.read_parquet(players.path).drop(columns=["player_id", "country", "platform", "is_cheater"]).head(3)
    answer = served.predict(rows.astype("float64").to_numpy())
    assert answer["probabilities"].shape == (3, 2)
