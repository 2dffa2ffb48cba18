"""The inference pipeline's cost per request (the raw-row endpoint against the bare-model endpoint),
and the Feast lookup's (the same model scored by player id, its columns read from Redis).

The demo's path, run through the real components: the player table (missing session lengths, text
country and platform) → fill_missing (median) → encode_categorical (one-hot) → train_classifier
(HistGradientBoosting, the demo's champion kind) → register_model twice, with raw inputs and
without. Both versions are served compiled (ONNX Runtime), one worker each; wrk, one thread,
concurrency 8 (and 1 for the raw and id endpoints), single-row requests (the raw endpoint gets the raw row, the bare one the encoded
row of the same player, the id endpoint the player's id alone); a warm-up, then the median of three.
The id endpoint reads all 14 columns from a feature view on the Redis that runs here.

    .venv/bin/python benchmarks/raw_inputs.py [--seconds 4] [--redis 127.0.0.1:6379]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.serving import measured  # noqa: E402  (after the path is set)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--redis", default="127.0.0.1:6379")
    args = parser.parse_args()
    import mlflow
    import numpy as np
    import pandas as pd
    from kfp.dsl import Artifact, Dataset, Metrics, Model

    from component_store.components.encode_categorical import encode_categorical
    from component_store.components.fill_missing import fill_missing
    from component_store.components.register_model import register_model
    from component_store.components.train_classifier import train_classifier
    from component_store.runtime.player_risk import player_risk_table
    from serving.endpoints import EndpointRequest, FeatureLookup
    from serving.local_target import LocalProcessTarget
    from tessera.workspace import init_workspace

    root = Path(tempfile.mkdtemp(prefix="tessera-bench-raw-"))
    workspace = init_workspace(root, name="bench")
    os.environ.update(workspace.component_environment())
    mlflow.set_tracking_uri(workspace.tracking_uri())

    def artifact(kind: type, name: str) -> object:
        return kind(name=name, uri=str(root / name))

    raw = player_risk_table(5000)
    raw.loc[raw.index % 9 == 0, "avg_session_minutes"] = np.nan
    source = artifact(Dataset, "raw.parquet")
    raw.to_parquet(source.path, index=False)  # type: ignore[attr-defined]
    filled, encoded = artifact(Dataset, "filled"), artifact(Dataset, "encoded")
    fill_missing(table=source, filled=filled)
    encode_categorical(table=filled, encoded=encoded, exclude=["player_id", "is_cheater"])
    model, metrics = artifact(Model, "model"), artifact(Metrics, "metrics")
    train_classifier(
        train=encoded, model=model, metrics=metrics, label="is_cheater", family="hist_gradient_boosting",
        max_iter=200, drop_columns=["player_id"],
    )  # fmt: skip
    for name, raw_inputs in (("raw", True), ("bare", False)):
        register_model(
            model=model, metrics=metrics, registered=artifact(Artifact, f"registered-{name}"), model_name=name,
            raw_inputs=raw_inputs,
        )  # fmt: skip

    player = raw.iloc[[9]]  # a row with a missing session length
    raw_row = json.loads(player.drop(columns=["player_id", "is_cheater"]).to_json(orient="records"))
    table = pd.read_parquet(encoded.path)  # type: ignore[attr-defined]
    bare_row = table.loc[table["player_id"] == player["player_id"].iloc[0], model.metadata["features"]]  # type: ignore[attr-defined]
    player_id = str(player["player_id"].iloc[0])
    bodies = {
        "raw": {"instances": raw_row},
        "bare": {"instances": bare_row.to_numpy().tolist()},
        "by-id": {"instances": [{"player_id": player_id}]},
    }
    repo = profile_repo(root / "features", raw.drop(columns=["is_cheater"]), args.redis)
    lookup = FeatureLookup(repo=str(repo), views=("player_profile",))
    requests = {
        "raw": EndpointRequest(name="raw-api", model="raw/1"),
        "bare": EndpointRequest(name="bare-api", model="bare/1"),
        "by-id": EndpointRequest(name="by-id-api", model="raw/1", features=lookup),
    }
    target = LocalProcessTarget(workspace)
    endpoints = {name: target.deploy(request) for name, request in requests.items()}
    results = {}
    try:
        for name, endpoint in endpoints.items():
            url = f"{endpoint.url}/v1/models/{endpoint.name}:predict"
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {endpoint.token}"}
            results[name] = measured(url, json.dumps(bodies[name]), headers, args.seconds)
            if name != "bare":  # one caller at a time: the latency a lookup adds without queueing behind others
                results[f"{name}, 1 caller"] = measured(url, json.dumps(bodies[name]), headers, args.seconds, 1)
    finally:
        for endpoint in endpoints.values():
            target.delete(endpoint.name)
    print("| endpoint | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']:.0f} |")
    cost = 1 - results["raw"]["rps"] / results["bare"]["rps"]
    print(f"\ninference pipeline's cost: {cost:.0%} of the bare endpoint's throughput (goal ≤ 20 %)")
    for suffix in ("", ", 1 caller"):
        lookup_ms = results[f"by-id{suffix}"]["p99"] - results[f"raw{suffix}"]["p99"]
        print(f"Feast lookup on Redis adds {lookup_ms:.2f} ms at p99{suffix or ', 8 callers'} (goal ≤ 2 ms)")


FEATURE_TYPES = {"i": "Int64", "f": "Float64", "O": "String"}


def profile_repo(folder: Path, players: object, redis: str) -> Path:
    """A Feast repo with one feature view, `player_profile`, holding every raw column, loaded into Redis."""
    import uuid

    import pandas as pd

    from serving.online_features import open_feature_store

    frame = players.copy()  # type: ignore[attr-defined]
    (folder / "data").mkdir(parents=True)
    fields = ", ".join(
        f'Field(name="{c}", dtype={FEATURE_TYPES[frame[c].dtype.kind]})' for c in frame.columns if c != "player_id"
    )
    (folder / "feature_store.yaml").write_text(
        f"project: bench_{uuid.uuid4().hex[:8]}\nregistry: data/registry.db\nprovider: local\n"
        f'online_store:\n  type: redis\n  connection_string: "{redis}"\noffline_store:\n  type: file\n'
        "entity_key_serialization_version: 3\n"
    )
    (folder / "profiles.py").write_text(
        "from datetime import timedelta\n"
        "from feast import Entity, FeatureView, Field, FileSource\n"
        "from feast.types import Float64, Int64, String\n"
        "from feast.value_type import ValueType\n"
        'player = Entity(name="player", join_keys=["player_id"], value_type=ValueType.STRING)\n'
        'source = FileSource(name="profiles", path="data/profiles.parquet", timestamp_field="event_timestamp")\n'
        f'player_profile = FeatureView(name="player_profile", entities=[player], ttl=timedelta(days=30), '
        f"schema=[{fields}], source=source, online=True)\n"
    )
    frame["event_timestamp"] = pd.Timestamp.now(tz="UTC").floor("s")
    frame.to_parquet(folder / "data" / "profiles.parquet", index=False)
    store = open_feature_store(folder, apply=True)
    store.write_to_online_store("player_profile", frame)
    return folder


if __name__ == "__main__":
    main()
