"""The inference pipeline's cost per request: the raw-row endpoint against the bare-model endpoint.

The demo's path, run through the real components: the player table (missing session lengths, text
country and platform) → fill_missing (median) → encode_categorical (one-hot) → train_classifier
(HistGradientBoosting, the demo's champion kind) → register_model twice, with raw inputs and
without. Both versions are served compiled (ONNX Runtime), one worker each; wrk, one thread,
concurrency 8, single-row requests (the raw endpoint gets the raw row, the bare one the encoded
row of the same player); a warm-up, then the median of three.

    .venv/bin/python benchmarks/raw_inputs.py [--seconds 4]
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
    from serving.endpoints import EndpointRequest
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
    bodies = {"raw": {"instances": raw_row}, "bare": {"instances": bare_row.to_numpy().tolist()}}

    target = LocalProcessTarget(workspace)
    endpoints = {name: target.deploy(EndpointRequest(name=f"{name}-api", model=f"{name}/1")) for name in bodies}
    results = {}
    try:
        for name, endpoint in endpoints.items():
            url = f"{endpoint.url}/v1/models/{endpoint.name}:predict"
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {endpoint.token}"}
            results[name] = measured(url, json.dumps(bodies[name]), headers, args.seconds)
    finally:
        for endpoint in endpoints.values():
            target.delete(endpoint.name)
    print("| endpoint | req/s | p50 ms | p99 ms | errors |")
    print("|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']:.0f} |")
    cost = 1 - results["raw"]["rps"] / results["bare"]["rps"]
    print(f"\ninference pipeline's cost: {cost:.0%} of the bare endpoint's throughput (goal ≤ 20 %)")


if __name__ == "__main__":
    main()
