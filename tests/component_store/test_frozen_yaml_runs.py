"""A frozen component YAML runs in KFP's own executor, exactly as a Kubeflow pod runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml


def run_in_kfp_executor(
    store, name: str, version: str, params: dict, inputs: dict[str, str], outputs: list[str], workdir: Path
) -> dict:
    ir = yaml.safe_load(store.component_yaml(name, version))
    component = next(iter(ir["components"].values()))
    container = next(iter(ir["deploymentSpec"]["executors"].values()))["container"]
    types = component.get("outputDefinitions", {}).get("artifacts", {})

    def artifact(key: str, uri: str, schema: str) -> dict:
        return {"artifacts": [{"name": key, "type": {"schemaTitle": schema}, "uri": uri, "metadata": {}}]}

    executor_input = {
        "inputs": {
            "parameterValues": params,
            "artifacts": {k: artifact(k, uri, "system.Dataset") for k, uri in inputs.items()},
        },
        "outputs": {
            "artifacts": {k: artifact(k, str(workdir / k), types[k]["artifactType"]["schemaTitle"]) for k in outputs},
            "outputFile": str(workdir / "executor_output.json"),
        },
    }
    command = [part.replace("{{$}}", json.dumps(executor_input)) for part in container["command"] + container["args"]]
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((workdir / "executor_output.json").read_text())


def test_frozen_components_run_in_the_kfp_executor(store, tmp_path):
    run_in_kfp_executor(
        store, "sample_dataset", "1.0.0", {"dataset": "player_risk", "rows": 800}, {}, ["table"], tmp_path
    )
    players = tmp_path / "table"
    assert len(pd.read_parquet(players)) == 800
    split_dir = tmp_path / "split"
    split_dir.mkdir()
    output = run_in_kfp_executor(
        store,
        "train_test_split",
        "1.0.0",
        {"label": "is_cheater", "test_size": 0.25},
        {"table": str(players)},
        ["train", "test"],
        split_dir,
    )
    assert len(pd.read_parquet(split_dir / "train")) == 600
    assert len(pd.read_parquet(split_dir / "test")) == 200
    metadata = output["artifacts"]["test"]["artifacts"][0]["metadata"]
    assert metadata["rows"] == 200 and metadata["label"] == "is_cheater"
