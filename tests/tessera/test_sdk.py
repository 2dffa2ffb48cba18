"""The SDK (`import tessera`) against real workspaces: exports, a light import, workflow edits, runs that
fail and resume, cancel, and a component written like a notebook cell, vetted and published.

The demo journey through the SDK (outputs, models by alias, the endpoint) is in
tests/pipelines/test_demo_end_to_end.py, which then runs the example notebooks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from kfp.dsl import Dataset, Input, Output

import tessera
from studio.demo import copy_demo_projects
from tessera.errors import TesseraError, VetFailed, WorkflowInvalid
from tessera.workspace import init_workspace

HEAVY = ("kfp", "mlflow", "pandas", "torch", "pyspark", "feast", "kserve", "streamlit", "sklearn")


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tessera.Workspace:
    """A workspace as `tessera init --demo` makes it: the demo projects and a team store."""
    monkeypatch.setenv("TESSERA_USER", "ana")
    folder = init_workspace(tmp_path / "ws")
    copy_demo_projects(folder)
    return tessera.open(folder.root)


def test_every_export_is_documented_and_resolves() -> None:
    for name in tessera.__all__:
        value = getattr(tessera, name)
        assert (value.__doc__ or "").strip(), f"tessera.{name} has no docstring"
    assert set(tessera.__all__) <= set(dir(tessera))
    with pytest.raises(AttributeError, match="no attribute 'opn'"):
        _ = tessera.opn  # type: ignore[attr-defined]


def test_import_and_open_load_no_heavy_library(ws: tessera.Workspace) -> None:
    code = (
        "import sys, json, tessera\n"
        f"ws = tessera.open({str(ws.root)!r})\n"
        "names = ws.workflows\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(result.stdout) == []


def test_open_finds_the_workspace_like_the_cli(ws: tessera.Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ws.root / "projects")
    assert tessera.open().root == ws.root
    with pytest.raises(TesseraError, match="tessera init"):
        tessera.open(ws.root.parent / "nowhere")
    assert "risk/cheater_detection" in ws.workflows


def test_a_workflow_is_edited_with_the_studios_edits_and_saved(ws: tessera.Workspace) -> None:
    workflow = ws.new_workflow("churn", project="risk", description="churn from a file")
    workflow.add("sample_dataset").set_params("sample_dataset", rows=300)
    workflow.add("train_test_split", after="sample_dataset").set_params("train_test_split", label="is_cheater")
    assert workflow.spec.node("train_test_split").inputs == {"table": "sample_dataset.table"}
    assert workflow.validate().problems() == []
    path = workflow.save()
    again = ws.workflow("risk/churn")
    assert again.spec == workflow.spec and path == again.path

    with pytest.raises(TesseraError, match="did you mean 'table'"):
        workflow.bind("train_test_split", "tabel", "sample_dataset.table")
    workflow.set_params("train_test_split", test_size=7)  # out of range: invalid, so refused on save
    with pytest.raises(WorkflowInvalid, match="test_size"):
        workflow.save()
    assert ws.workflow("risk/churn").spec == again.spec, "a refused save writes nothing"

    svg = again._repr_html_()
    assert svg.count("<rect") == 2 and svg.count("<line") == 1 and "train_test_split" in svg


def test_a_failed_run_resumes_once_its_data_arrives(
    ws: tessera.Workspace, tmp_path: Path, webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook_url, hooks = webhook
    monkeypatch.setenv("TEAM_WEBHOOK", hook_url)
    config = ws.root / "tessera.yaml"
    config.write_text(config.read_text() + "alerts:\n  - {webhook_env: TEAM_WEBHOOK, events: [run_failed]}\n")
    ws = tessera.open(ws.root)
    late = tmp_path / "late" / "players.csv"
    workflow = ws.new_workflow("from_file")
    workflow.add("load_table").set_params("load_table", path=str(late))
    workflow.add("select_columns", after="load_table").set_params("select_columns", columns=["player_id"])
    workflow.save()

    run = ws.run("from_file", progress=False)
    assert run.state == "failed"
    assert {n: r.status for n, r in run.nodes.items()} == {"load_table": "failed", "select_columns": "skipped"}
    assert "players.csv" in run.logs("load_table")
    with pytest.raises(TesseraError, match="Run .* failed.*failed: load_table"):
        run.raise_for_state()
    assert [(h["event"], h["run_id"], h["failed_nodes"]) for h in hooks] == [("run_failed", run.id, "load_table")]

    late.parent.mkdir()
    pd.DataFrame({"player_id": [1, 2, 3], "score": [0.1, None, 0.3]}).to_csv(late, index=False)
    run.resume(wait=True)
    assert run.state == "succeeded" and run.nodes["load_table"].attempts == 2
    selected = run.output("select_columns")
    assert selected.columns.tolist() == ["player_id"] and selected["player_id"].tolist() == [1, 2, 3]
    with pytest.raises(TesseraError, match="no output 'tabel'.*did you mean 'table'"):
        run.output("load_table", "tabel")
    assert [r.id for r in ws.runs(workflow="default/from_file")] == [run.id]
    assert "succeeded" in run._repr_html_() and "<script" not in run._repr_html_()


def test_a_run_started_without_waiting_can_be_cancelled_and_resumed(ws: tessera.Workspace, tmp_path: Path) -> None:
    players = tmp_path / "players.csv"
    pd.DataFrame({"player_id": range(50), "score": 0.5}).to_csv(players, index=False)
    ws.new_workflow("quick").add("load_table").set_params("load_table", path=str(players)).add(
        "profile_table", after="load_table"
    ).save()
    run = ws.run("quick", wait=False, progress=False)
    assert run.state in ("queued", "running"), "without waiting, the call returns as the run starts"
    assert run.cancel().state == "cancelled"
    run.resume(wait=False).wait(timeout=120)
    assert run.state == "succeeded", {node: record.message for node, record in run.nodes.items()}
    assert ws.get_run(run.id[:12]).state == "succeeded", "a unique prefix finds the run"


def test_bad_parameters_are_refused_before_anything_runs(ws: tessera.Workspace) -> None:
    with pytest.raises(WorkflowInvalid, match="playrs"):
        ws.run("cheater_detection", {"playrs": 10}, progress=False)
    assert ws.runs() == []


@tessera.component(category="transform", tags=["payments"])
def clip_amounts(table: Input[Dataset], clipped: Output[Dataset], high: float = 500.0):
    """Clip payment amounts at a ceiling.

    Args:
        table: the player table.
        clipped: the table with payment_amount_30d clipped.
        high: the ceiling.
    """
    from component_store.runtime.tables import read_table, write_table

    frame = read_table(table)
    frame["payment_amount_30d"] = frame["payment_amount_30d"].clip(upper=high)
    write_table(frame, clipped)


def notebook_tests():
    """Test functions as a notebook user writes them in a cell (kept out of pytest's collection here)."""

    def test_clip_amounts_clips(tmp_path):
        table = Dataset(name="table", uri=str(tmp_path / "table.parquet"))
        pd.DataFrame({"payment_amount_30d": [10.0, 900.0]}).to_parquet(table.path, index=False)
        clipped = Dataset(name="clipped", uri=str(tmp_path / "clipped.parquet"))
        clip_amounts(table=table, clipped=clipped, high=100.0)
        assert pd.read_parquet(clipped.path)["payment_amount_30d"].tolist() == [10.0, 100.0]

    def test_clip_amounts_wrongly(tmp_path):
        table = Dataset(name="table", uri=str(tmp_path / "table.parquet"))
        pd.DataFrame({"payment_amount_30d": [900.0]}).to_parquet(table.path, index=False)
        clipped = Dataset(name="clipped", uri=str(tmp_path / "clipped.parquet"))
        clip_amounts(table=table, clipped=clipped, high=100.0)
        assert pd.read_parquet(clipped.path)["payment_amount_30d"].tolist() == [900.0]

    return test_clip_amounts_clips, test_clip_amounts_wrongly


@pytest.mark.slow
def test_a_notebook_component_is_vetted_and_published_for_review(ws: tessera.Workspace) -> None:
    team = ws.root / "components"
    clips, wrongly = notebook_tests()
    with pytest.raises(VetFailed, match="test_clip_amounts_wrongly"):
        ws.components.publish(clip_amounts, tests=[wrongly])
    assert not (team / "clip_amounts.py").exists(), "a refused publish leaves the team store as it was"
    assert not (team / "tests" / "test_clip_amounts.py").exists()

    published = ws.components.publish(clip_amounts, tests=[clips], message="from a notebook")
    assert (published.ref, published.outcome, published.why) == ("clip_amounts@1.0.0", "published", "first version")
    assert any("trial run" in note for note in published.notes)
    source = (team / "clip_amounts.py").read_text()
    assert "@component(name='clip_amounts', category='transform', tags=['payments'])" in source
    assert "@tessera.component" not in source
    spec = ws.components.show("clip_amounts")
    assert spec.version == "1.0.0" and spec.tags == ("payments",)
    assert ws.components.search("payment amounts")[0].name == "clip_amounts"

    again = ws.components.publish(clip_amounts, tests=[clips])
    assert again.outcome == "unchanged"


def test_a_notebook_component_needs_tests_and_a_team_store(ws: tessera.Workspace, tmp_path: Path) -> None:
    clips, _ = notebook_tests()
    with pytest.raises(TesseraError, match="at least one test"):
        ws.components.publish(clip_amounts, tests=[])
    with pytest.raises(TesseraError, match="rename it"):
        ws.components.publish(clip_amounts, tests=[clip_amounts.source_function])
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "tessera.yaml").write_text("name: bare\nstores: []\n")
    with pytest.raises(TesseraError, match="no team store"):
        tessera.open(bare).components.publish(clip_amounts, tests=[clips])


def test_an_endpoint_without_a_kept_token_says_how_to_get_one(ws: tessera.Workspace) -> None:
    with pytest.raises(TesseraError, match=r"new_token\(\)"):
        ws.endpoint("cheater-api")._client()
