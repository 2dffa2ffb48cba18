"""The `tessera` CLI as a user runs it: a real process, exit codes, messages without tracebacks."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


def tessera(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "TESSERA_HOME"} | {"COLUMNS": "200"} | (env or {})
    return subprocess.run(
        [sys.executable, "-m", "studio.cli", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    result = tessera("init", "ws", "--demo", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (
        "Added demo workflows: risk/cheater_detection, risk/cheater_detection_feast, risk/player_features"
        in " ".join(result.stdout.split())
    )
    return tmp_path / "ws"


def test_init_validate_compile_the_demo(workspace: Path):
    assert (workspace / "tessera.yaml").exists() and (workspace / ".tessera").is_dir()
    validated = tessera("workflow", "validate", "cheater_detection", cwd=workspace)
    assert validated.returncode == 0, validated.stderr
    assert "11 nodes, 13 edges, valid" in validated.stdout
    compiled = tessera("workflow", "compile", "risk/cheater_detection", "-o", "out/pipeline.yaml", cwd=workspace)
    assert compiled.returncode == 0, compiled.stderr
    ir = yaml.safe_load((workspace / "out" / "pipeline.yaml").read_text())
    assert set(ir["root"]["dag"]["tasks"]) == {
        "players",
        "profile",
        "validate",
        "fill",
        "encode",
        "split",
        "tune",
        "evaluate",
        "gate",
        "condition-1",  # register and serve run inside dsl.If(gate.decision == 'accept')
    }
    inside = ir["components"]["comp-condition-1"]["dag"]["tasks"]
    assert set(inside) == {"register", "serve"}
    images = {e["container"]["image"] for e in ir["deploymentSpec"]["executors"].values()}
    assert images == {"tessera/runtime:0.1.0"}


def test_invalid_workflow_exits_2_with_every_problem_and_no_traceback(workspace: Path):
    path = workspace / "projects" / "risk" / "workflows" / "cheater_detection.yaml"
    path.write_text(
        path.read_text().replace("label: is_cheater", "lable: is_cheater").replace("fill.filled", "fill.filed")
    )
    result = tessera("workflow", "validate", str(path), cwd=workspace)
    assert result.returncode == 2
    assert "has 4 problems" in result.stdout  # split and tune both get lable, tune misses its label
    assert "(did you mean 'label'?)" in result.stdout
    assert "(did you mean 'fill.filled'?)" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_errors_outside_a_workspace_say_what_to_do(tmp_path: Path):
    result = tessera("workflow", "validate", "cheater_detection", cwd=tmp_path)
    assert result.returncode == 2
    assert "tessera init" in result.stderr and "Traceback" not in result.stderr


def test_unknown_workflow_suggests(workspace: Path):
    result = tessera("workflow", "compile", "cheater_detecton", "-o", "x.yaml", cwd=workspace)
    assert result.returncode == 2
    assert "did you mean 'risk/cheater_detection'" in result.stderr
    assert not (workspace / "x.yaml").exists()


def test_components_list_json_and_filters(workspace: Path):
    result = tessera("components", "list", "--json", "--category", "data", cwd=workspace)
    assert result.returncode == 0, result.stderr
    names = {c["name"] for c in json.loads(result.stdout)}
    assert names == {
        "sample_dataset",
        "load_table",
        "export_table",
        "combine_tables",
        "sql_query",
        "generate_event_log",
    }
    bad = tessera("components", "list", "--category", "dat", cwd=workspace)
    assert bad.returncode == 2 and "did you mean 'data'" in bad.stderr


def test_components_show_lists_params_schema_and_usage(workspace: Path):
    result = tessera("components", "show", "train_test_split", "--json", cwd=workspace)
    body = json.loads(result.stdout)
    assert body["versions"] == ["1.0.0", "1.1.0"]
    assert body["params_schema"]["properties"]["test_size"]["maximum"] == 0.95
    assert body["used_by"] == [  # the latest version's users
        {"workflow": "risk/cheater_detection", "node": "split"},
        {"workflow": "risk/cheater_detection_feast", "node": "split"},
    ]
    missing = tessera("components", "show", "train_test_splt", cwd=workspace)
    assert missing.returncode == 2 and "did you mean 'train_test_split'" in missing.stderr


def test_components_vet_and_publish_are_idempotent_for_the_builtin_store(workspace: Path):
    vetted = tessera("components", "vet", "--all", cwd=workspace)
    assert vetted.returncode == 0, vetted.stdout + vetted.stderr
    assert "✓ train_test_split@1.1.0" in vetted.stdout
    published = tessera("components", "publish", "select_columns", cwd=workspace)
    assert published.returncode == 0, published.stderr
    assert "unchanged select_columns@1.1.0" in published.stdout


def test_workflow_new_creates_a_valid_empty_workflow(workspace: Path):
    created = tessera("workflow", "new", "churn", "--project", "risk", cwd=workspace)
    assert created.returncode == 0, created.stderr
    assert tessera("workflow", "validate", "churn", cwd=workspace).returncode == 0
    again = tessera("workflow", "new", "churn", "--project", "risk", cwd=workspace)
    assert again.returncode == 2 and "exists already" in again.stderr


def test_tessera_home_points_at_the_workspace(workspace: Path, tmp_path: Path):
    result = tessera("workflow", "validate", "cheater_detection", cwd=tmp_path, env={"TESSERA_HOME": str(workspace)})
    assert result.returncode == 0, result.stderr


def test_help_imports_no_heavy_library():
    code = "import sys, studio.cli; heavy = {'kfp','mlflow','pandas','sklearn','torch','pyspark','feast','kserve','streamlit'}; print(sorted(heavy & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
