"""Fidelity: the compiled IR run by kfp's own local engine gives the same outputs as Tessera's runner."""

from pathlib import Path

import pandas as pd
import pytest

from pipelines.compiler import compile_to_yaml
from tests.pipelines.conftest import run_with_kfp_local


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_kfp_local_and_tessera_produce_the_same_outputs(runner, features_spec, tmp_path, monkeypatch):
    ours = runner.run(features_spec)
    assert ours.status == "succeeded"
    run_folder = run_with_kfp_local(
        compile_to_yaml(features_spec, runner.store), tmp_path, monkeypatch, players=5000, test_size=0.2
    )
    for node in ours.nodes:
        for output, spec in node.outputs.items():
            theirs = run_folder / node.node_id / output
            assert theirs.exists(), f"kfp.local wrote no {node.node_id}.{output}"
            if spec["type"] == "system.Dataset":
                pd.testing.assert_frame_equal(pd.read_parquet(spec["uri"]), pd.read_parquet(theirs))
            else:
                assert Path(spec["uri"]).read_text() == theirs.read_text()
