"""Fidelity: the compiled IR run by kfp's own local engine gives the same outputs as Tessera's runner."""

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from pipelines.compiler import compile_to_yaml


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_kfp_local_and_tessera_produce_the_same_outputs(runner, features_spec, tmp_path, monkeypatch):
    from kfp import components, local

    ours = runner.run(features_spec)
    assert ours.status == "succeeded"

    ir_path = tmp_path / "pipeline.yaml"
    ir_path.write_text(compile_to_yaml(features_spec, runner.store))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    root = tmp_path / "kfp-local"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
    components.load_component_from_file(str(ir_path))(players=5000, test_size=0.2)

    [run_folder] = list(root.iterdir())
    for node in ours.nodes:
        for output, spec in node.outputs.items():
            theirs = run_folder / node.node_id / output
            assert theirs.exists(), f"kfp.local wrote no {node.node_id}.{output}"
            if spec["type"] == "system.Dataset":
                pd.testing.assert_frame_equal(pd.read_parquet(spec["uri"]), pd.read_parquet(theirs))
            else:
                assert Path(spec["uri"]).read_text() == theirs.read_text()
