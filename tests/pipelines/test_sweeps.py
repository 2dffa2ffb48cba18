"""Sweeps: a 2 × 3 grid is six runs through the local runner; the nodes points share run once and come
from the cache for the others (one at a time here, so the counts are exact: points started together
may both compute a node they share); `show` compares parameters and metrics side by side."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from component_store.publish import publish_to_team
from component_store.store import workspace_store
from pipelines.local_runner import LocalRunner
from pipelines.sweeps import Sweeps, grid_points, parse_grid
from pipelines.workflow_io import parse_workflow
from tessera.errors import WorkflowInvalid
from tests.pipelines.toy_components import positive_share
from tests.studio.test_cli import tessera

pytestmark = pytest.mark.slow
DEPTH = """name: depth
project: risk
params:
  max_depth: {type: integer, default: 3}
  test_size: {type: number, default: 0.25}
nodes:
- id: players
  component: sample_dataset@1.0.0
  params: {rows: 400}
- id: split
  component: train_test_split@1.1.0
  params: {label: is_cheater, test_size: '${params.test_size}'}
  inputs: {table: players.table}
- id: evaluate
  component: positive_share@1.0.0
  params: {label: is_cheater, weight: '${params.max_depth}'}
  inputs: {table: split.test}
"""


def test_a_grid_is_typed_and_checked_all_at_once() -> None:
    spec = parse_workflow(DEPTH)
    grid = parse_grid(spec, ["max_depth=2,4", "test_size=0.2,0.3,0.2"])
    assert grid == {"max_depth": [2, 4], "test_size": [0.2, 0.3]}
    assert len(grid_points(grid)) == 4 and grid_points(grid)[1] == {"max_depth": 2, "test_size": 0.3}
    with pytest.raises(WorkflowInvalid) as bad:
        parse_grid(spec, ["max_dept=2", "test_size=a,0.2", "nothing"])
    text = str(bad.value)
    assert "(did you mean 'max_depth'?)" in text and "'a' is not a valid number" in text and "NAME=V1,V2" in text


def test_a_two_by_three_sweep_runs_six_points_sharing_the_cache(demo_workspace, monkeypatch) -> None:
    # a metric that costs nothing, from the workspace's team store (as a team's own component would be)
    publish_to_team(
        positive_share.spec, positive_share.to_component_yaml(), workspace_store(demo_workspace), author="t", message=""
    )
    path = demo_workspace.workflows_dir("risk") / "depth.yaml"
    path.write_text(DEPTH)
    result = tessera(
        "sweep", "depth", "--grid", "test_size=0.2,0.3", "--grid", "max_depth=2,3,4", "--parallelism", "1",
        cwd=demo_workspace.root,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    sweep_id = result.stdout.split("tessera sweep show ")[1].split()[0]
    store = workspace_store(demo_workspace)
    runner = LocalRunner(demo_workspace, store)
    sweeps = Sweeps(demo_workspace, runner, store)
    sweep = sweeps.get(sweep_id)
    assert len(sweep.runs) == 6
    records = [runner.status(r["run_id"]) for r in sweep.runs]
    assert all(r.status == "succeeded" for r in records)
    players = [r.node("players").status for r in records]
    assert players.count("succeeded") == 1 and players.count("cached") == 5, "the shared data node ran once"
    splits = [r.node("split").status for r in records]
    assert splits.count("succeeded") == 2, "one split per test_size, reused by the max_depth points"

    shown = json.loads(tessera("sweep", "show", sweep_id[:12], "--json", cwd=demo_workspace.root).stdout)
    points = shown["points"]
    assert [(p["test_size"], p["max_depth"]) for p in points] == [
        (0.2, 2),
        (0.2, 3),
        (0.2, 4),
        (0.3, 2),
        (0.3, 3),
        (0.3, 4),
    ]
    assert all(p["evaluate.rows"] in (80, 120) for p in points)
    shares = {(p["test_size"], p["max_depth"]): p["evaluate.share"] for p in points}
    assert shares[(0.2, 4)] == pytest.approx(2 * shares[(0.2, 2)]), "each point ran with its own parameters"
    plot = Path(demo_workspace.root) / "sweep.png"
    drawn = tessera("sweep", "show", sweep_id, "--plot", str(plot), cwd=demo_workspace.root)
    assert drawn.returncode == 0 and plot.stat().st_size > 1000

    # The studio's Runs page groups the sweep and plots a metric against a swept parameter.
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    page = Path(__file__).resolve().parents[2] / "studio" / "screens" / "runs.py"
    app = AppTest.from_file(str(page), default_timeout=60).run()
    assert not app.exception, app.exception
    assert any(len(frame.value) == 6 for frame in app.dataframe), "one row per point"
    assert next(s for s in app.selectbox if s.label == "Metric").options == ["evaluate.share", "evaluate.rows"]
    assert app.get("plotly_chart"), "the metric against the swept parameter"
