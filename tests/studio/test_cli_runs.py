"""`tessera run` and `tessera runs …` as a user types them."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.studio.test_cli import tessera


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    assert tessera("init", "ws", "--demo", cwd=tmp_path).returncode == 0
    return tmp_path / "ws"


def run_id_of(output: str) -> str:
    match = re.search(r"Run (\d{8}-\d{6}-[0-9a-f]{4})", output)
    assert match, output
    return match.group(1)


def test_run_show_logs_preview(workspace: Path):
    first = tessera("run", "player_features", "-p", "players=1500", "-p", "test_size=0.4", cwd=workspace)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "succeeded" in first.stdout and "(0 of 6 nodes from cache)" in first.stdout
    run_id = run_id_of(first.stdout)

    again = tessera("run", "player_features", "-p", "players=1500", "-p", "test_size=0.4", cwd=workspace)
    assert "(6 of 6 nodes from cache)" in again.stdout
    second_id = run_id_of(again.stdout)

    shown = tessera("runs", "show", run_id[:-2], cwd=workspace)
    assert shown.returncode == 0 and "split" in shown.stdout and "test_size=0.4" in shown.stdout
    logs = tessera("runs", "logs", run_id, "split", cwd=workspace)
    assert "Wrote executor output file" in logs.stdout
    preview = tessera("runs", "preview", run_id, "split", "test", "--rows", "3", cwd=workspace)
    assert preview.returncode == 0, preview.stderr
    assert "split.test: 600 rows" in preview.stdout and "is_cheater" in preview.stdout
    report = tessera("runs", "preview", run_id, "profile", cwd=workspace)
    assert "# Profile" in report.stdout
    listed = tessera("runs", "list", cwd=workspace)
    assert run_id in listed.stdout and second_id in listed.stdout
    assert "6 cached" in listed.stdout and "6 succeeded" in listed.stdout


def test_bad_run_param_exits_2_with_did_you_mean(workspace: Path):
    result = tessera("run", "player_features", "-p", "test_sise=0.3", cwd=workspace)
    assert result.returncode == 2
    assert "no run parameter 'test_sise' (did you mean 'test_size'?)" in result.stderr
    typed = tessera("run", "player_features", "-p", "players=many", cwd=workspace)
    assert typed.returncode == 2 and "'many' is not a valid integer" in typed.stderr
    assert "Traceback" not in result.stderr + typed.stderr


def test_unknown_run_and_node_suggest(workspace: Path):
    run_id = run_id_of(tessera("run", "player_features", "--sample", "100", cwd=workspace).stdout)
    missing = tessera("runs", "logs", run_id, "splt", cwd=workspace)
    assert missing.returncode == 2 and "did you mean 'split'" in missing.stderr
    unknown = tessera("runs", "show", "1999", cwd=workspace)
    assert unknown.returncode == 2 and "tessera runs list" in unknown.stderr


def test_ctrl_c_cancels_the_run(workspace: Path):
    process = subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "run", "player_features", "-p", "players=3000000"],
        cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1, out + err
    assert "cancelled" in err
    listed = tessera("runs", "list", "--status", "cancelled", cwd=workspace)
    assert "cancelled" in listed.stdout


BROKEN = """name: broken
project: risk
nodes:
- id: data
  component: sample_dataset@1.0.0
  params: {dataset: iris}
- id: train
  component: train_classifier@1.0.0
  params: {label: no_such_label}
  inputs: {train: data.table}
"""


def test_a_failed_run_exits_1_and_a_usage_error_2_and_lists_read_as_json(workspace: Path):
    import json

    (workspace / "projects" / "risk" / "workflows" / "broken.yaml").write_text(BROKEN)
    failed = tessera("run", "broken", cwd=workspace)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Run " in failed.stderr and "failed" in failed.stderr and "tessera runs logs" in failed.stderr
    usage = tessera("run", "broken", "-p", "nope=1", cwd=workspace)
    assert usage.returncode == 2 and "nope" in usage.stderr

    runs = json.loads(tessera("runs", "list", "--json", cwd=workspace).stdout)
    assert [(r["workflow"], r["status"]) for r in runs] == [("risk/broken", "failed")]
    shown = json.loads(tessera("runs", "show", runs[0]["id"], "--json", cwd=workspace).stdout)
    assert {n["node_id"]: n["status"] for n in shown["nodes"]} == {"data": "succeeded", "train": "failed"}
    assert json.loads(tessera("models", "list", "--json", cwd=workspace).stdout) == []
    assert json.loads(tessera("endpoint", "list", "--json", cwd=workspace).stdout) == []
