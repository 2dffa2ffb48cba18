"""Loops: a group of nodes run once per item (`loops:` in the spec, KFP's `dsl.ParallelFor`).

KFP's semantics, as the local runner keeps them:

| construct | KFP | local runner |
|---|---|---|
| `for_each: ${params.x}` / `[a, b]` | `dsl.ParallelFor(items)`: one iteration per item | one node instance per item and loop node: `size[eu]` |
| `${loop.item}` in a parameter | the loop argument | the item, typed as in the list |
| a loop node reading a loop node | the same iteration's output | the same instance label's output |
| `parallelism: N` | at most N iterations at once | at most N instances of the loop running |
| `after: [loop node]` outside | waits for every iteration | waits for every instance |
| an iteration fails | the loop fails; what waits for it is skipped; other iterations finish | the same |
| an empty list | no iteration; what waits runs | no instance; what waits runs |
"""

from __future__ import annotations

import json

import pytest

from pipelines.compiler import compile_to_yaml, compile_workflow, task_name
from pipelines.loops import expand_loops, iteration_labels, rolled_up
from pipelines.runner import RunOptions
from pipelines.validation import validate_workflow
from pipelines.workflow_io import parse_workflow, workflow_to_yaml

LOOPED = """name: per_size
project: risk
params:
  sizes: {type: array, default: [40, 60, 90]}
nodes:
- id: players
  component: sample_dataset@1.0.0
  params: {rows: '${loop.item}'}
- id: size
  component: measure@1.0.0
  params: {at_least: 50}
  inputs: {table: players.table}
- id: report
  component: sample_dataset@1.0.0
  params: {rows: 10}
  after: [size]
loops:
  per_size:
    for_each: ${params.sizes}
    parallelism: 2
    nodes: [players, size]
"""


@pytest.fixture
def looped():
    return parse_workflow(LOOPED)


def states(record) -> dict[str, str]:
    return {n.node_id: n.status for n in record.nodes}


def test_each_item_runs_its_own_instances_with_its_item_and_the_same_iterations_inputs(runner, looped) -> None:
    record = runner.run(looped, {}, RunOptions(no_cache=True))
    assert record.status == "succeeded", record.message
    assert list(states(record)) == [
        "players[40]", "players[60]", "players[90]", "size[40]", "size[60]", "size[90]", "report",
    ]  # fmt: skip
    assert {n: record.node(f"size[{n}]").outputs["rows"]["value"] for n in (40, 60, 90)} == {40: 40, 60: 60, 90: 90}
    assert [record.node(f"size[{n}]").outputs["size"]["value"] for n in (40, 60, 90)] == ["small", "big", "big"]
    last_size = max(record.node(f"size[{n}]").ended_at for n in (40, 60, 90))
    assert record.node("report").started_at >= last_size, "after: [size] waits for every iteration"
    assert runner.logs(record.id, "size[60]").startswith("=== size[60] (measure@1.0.0) attempt 1")

    from rich.console import Console

    from studio.cli_runs import _node_table

    console = Console(record=True, width=120)
    console.print(_node_table(record))
    assert "size[60]" in console.export_text(), "the CLI's table prints instance ids as they are, not as markup"

    again = runner.run(looped, {"sizes": [60, 120]})
    assert states(again)["size[60]"] == "cached", "an iteration's cache key is its own item"
    assert states(again)["size[120]"] == "succeeded" and "size[40]" not in states(again)


def test_parallelism_caps_the_iterations_running_at_once(runner, looped) -> None:
    spec = parse_workflow(LOOPED.replace("default: [40, 60, 90]", "default: [41, 42, 43, 44]"))
    record = runner.run(spec, {}, RunOptions(no_cache=True, max_parallel=4))
    spans = [(n.started_at, n.ended_at) for n in record.nodes if n.node_id.startswith(("players[", "size["))]
    moments = sorted({start for start, _ in spans})
    most = max(sum(start <= m < end for start, end in spans) for m in moments)
    assert record.status == "succeeded" and most <= 2, f"{most} iterations ran at once, the loop allows 2"


def test_a_failed_iteration_fails_the_run_and_skips_what_waits_and_an_empty_list_runs_nothing(
    runner, toy_store, tmp_path
) -> None:
    failing = parse_workflow(
        LOOPED.replace("component: measure@1.0.0\n  params: {at_least: 50}", "component: flaky@1.0.0\n  params: {marker: '${loop.item}'}")
        .replace("params: {rows: '${loop.item}'}", "params: {rows: 30}")
        .replace("sizes: {type: array, default: [40, 60, 90]}", "sizes: {type: array, default: []}")
    )  # fmt: skip
    present = tmp_path / "present"
    present.touch()
    record = runner.run(failing, {"sizes": [str(present), str(tmp_path / "absent")]}, RunOptions(no_cache=True))
    assert record.status == "failed"
    assert sorted(states(record).values()) == ["failed", "skipped", "succeeded", "succeeded", "succeeded"]
    assert states(record)["report"] == "skipped"
    assert [n for n in states(record) if n.startswith("size[")] == ["size[0]", "size[1]"], "paths are labelled by place"

    (tmp_path / "absent").touch()
    resumed = runner.resume(record.id)
    assert resumed.status == "succeeded" and states(resumed)["size[1]"] == states(resumed)["report"] == "succeeded"
    assert resumed.node("size[0]").started_at == record.node("size[0]").started_at, "a finished iteration stays"

    empty = runner.run(failing, {"sizes": []})
    assert list(states(empty)) == ["report"] and empty.status == "succeeded"


def test_the_ir_has_one_parallel_for_and_kfp_loads_it(looped, toy_store) -> None:
    ir = compile_workflow(looped, toy_store)
    root = ir["root"]["dag"]["tasks"]
    loops = [t for name, t in root.items() if name.startswith("for-loop-")]
    assert len(loops) == 1
    loop = loops[0]
    assert loop["parameterIterator"]["items"]["inputParameter"].endswith("sizes")
    assert loop["iteratorPolicy"]["parallelismLimit"] == 2
    inner = ir["components"][loop["componentRef"]["name"]]["dag"]["tasks"]
    assert set(inner) == {task_name("players"), task_name("size")}
    rows = inner[task_name("players")]["inputs"]["parameters"]["rows"]
    assert "loop-item" in str(rows), rows
    assert root[task_name("report")]["dependentTasks"] == [next(n for n in root if n.startswith("for-loop-"))]
    from kfp import components

    components.load_component_from_text(compile_to_yaml(looped, toy_store))

    literal = parse_workflow(LOOPED.replace("${params.sizes}", "[40, 60]"))
    ir = compile_workflow(literal, toy_store)
    loop = next(t for name, t in ir["root"]["dag"]["tasks"].items() if name.startswith("for-loop-"))
    assert "raw" in loop["parameterIterator"]["items"], loop


def test_the_spec_round_trips_and_validation_names_each_mistake(looped, toy_store) -> None:
    assert parse_workflow(workflow_to_yaml(looped)) == looped
    assert validate_workflow(looped, toy_store) == []

    def problems(text: str) -> list[str]:
        return [str(p) for p in validate_workflow(parse_workflow(text), toy_store)]

    typo = problems(LOOPED.replace("${params.sizes}", "${params.size}").replace("[players, size]", "[players, sise]"))
    assert any(
        "loops › per_size › for_each: no run parameter 'size' (did you mean '${params.sizes}'?)" in m for m in typo
    )
    assert any("no node 'sise' (did you mean 'size'?)" in m for m in typo), typo
    wrong_type = problems(
        LOOPED.replace("sizes: {type: array, default: [40, 60, 90]}", "sizes: {type: integer, default: 4}")
    )
    assert any("run parameter 'sizes' is integer; a loop needs an array" in m for m in wrong_type), wrong_type
    bad_item = problems(LOOPED.replace("default: [40, 60, 90]", "default: [40, many]"))
    assert any("loop 'per_size' has item 'many', but 'rows' takes integer" in m for m in bad_item), bad_item
    read_outside = problems(LOOPED.replace("  after: [size]", "  inputs: {table: players.table}").replace(
        "component: sample_dataset@1.0.0\n  params: {rows: 10}", "component: measure@1.0.0"
    ))  # fmt: skip
    assert any(
        "node 'report' › inputs › table: reads 'players.table', which loop 'per_size' makes once per item; "
        "wait for the loop with after: [players]" in m
        for m in read_outside
    ), read_outside
    outside_item = problems(LOOPED.replace("params: {rows: 10}", "params: {rows: '${loop.item}'}"))
    assert any(
        "node 'report' › params: ${loop.item} is a loop's item, and 'report' is in no loop" in m for m in outside_item
    )
    conditioned = problems(
        LOOPED.replace("  params: {at_least: 50}", "  params: {at_least: 50}\n  when: params.sizes != []")
    )
    assert any("conditions inside or around a loop are not supported yet" in m for m in conditioned), conditioned
    feeding = problems(LOOPED.replace("  params: {at_least: 50}", "  params: {at_least: 50}\n  after: [report]").replace(
        "  after: [size]\n", "  after: [players]\n"
    ))  # fmt: skip
    assert any("a node after a loop cannot also feed it" in m for m in feeding), feeding


def test_labels_and_rolled_up_states() -> None:
    assert iteration_labels(["eu", "na"]) == ["eu", "na"]
    assert iteration_labels(["eu", "eu"]) == ["0", "1"], "labels must be unique"
    assert iteration_labels(["s3://a/b", "x"]) == ["0", "1"]
    assert iteration_labels([1.5, 2]) == ["0", "1"], "a '.' would break '<node>.<output>'"
    states = {"a": "succeeded", "t[eu]": "succeeded", "t[na]": "running", "u[eu]": "cached", "u[na]": "succeeded"}
    assert rolled_up(states) == {"a": "succeeded", "t": "running", "u": "succeeded"}
    assert rolled_up({"t[0]": "failed", "t[1]": "succeeded"}) == {"t": "failed"}


def test_expansion_keeps_nodes_outside_loops_as_they_are(looped) -> None:
    expansion = expand_loops(looped, {"sizes": ["eu"]})
    assert expansion.spec.node("size[eu]").inputs == {"table": "players[eu].table"}
    assert expansion.spec.node("players[eu]").params == {"rows": "eu"}
    assert expansion.spec.node("report").after == ("size[eu]",)
    assert expansion.loop_of_instance == {"players[eu]": "per_size", "size[eu]": "per_size"}


def test_on_kubeflow_a_loop_node_is_one_record_with_its_iterations_rolled_up(demo_workspace, toy_store, looped) -> None:
    from pipelines.kubeflow_runner import KubeflowRunner
    from tests.pipelines.conftest import kubeflow_workspace
    from tests.pipelines.fake_kubeflow import FakeKubeflow, fake_client

    fake = FakeKubeflow(finish_after=1, fail_node="size", fail_iteration=1)
    runner = KubeflowRunner(kubeflow_workspace(demo_workspace), toy_store, fake_client(fake))
    runner.poll_seconds = 0.01
    record = runner.wait(runner.submit(looped, {"sizes": [40, 60, 90]}).id, timeout=30)
    assert [n.node_id for n in record.nodes] == ["players", "size", "report"]
    assert record.status == "failed"
    assert states(record)["players"] == "succeeded" and record.node("players").message == "3 iterations"
    assert states(record)["size"] == "failed"
    assert record.node("size").message == "1 of 3 iterations failed: size: exit code 1"

    passing = KubeflowRunner(kubeflow_workspace(demo_workspace), toy_store, fake_client(FakeKubeflow(finish_after=1)))
    passing.poll_seconds = 0.01
    record = passing.wait(passing.submit(looped, {"sizes": [40, 60]}).id, timeout=30)
    assert record.status == "succeeded" and set(states(record).values()) == {"succeeded"}
    assert record.node("size").message == "2 iterations"


def test_the_canvas_card_names_the_loop_and_shows_its_iterations_as_one_state(looped, toy_store) -> None:
    from studio.canvas import flow_elements

    statuses = rolled_up({"players[40]": "succeeded", "players[60]": "running", "size[40]": "pending"})
    nodes, _ = flow_elements(looped, toy_store, statuses=statuses)
    cards = {n["id"]: n["data"]["content"] for n in nodes}
    assert "↻ _loop per_size: each of ${params.sizes}_" in cards["size"] and "↻" not in cards["report"]
    assert "`running`" in cards["players"] and "`pending`" in cards["size"]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_kfp_local_runs_the_compiled_loop_to_the_same_tables(runner, looped, tmp_path, monkeypatch) -> None:
    """kfp 2.17's local orchestrator runs dsl.ParallelFor: each iteration's table equals our instance's."""
    import pandas as pd

    from tests.pipelines.conftest import run_with_kfp_local

    ours = runner.run(looped, {"sizes": [40, 60]})
    assert ours.status == "succeeded"
    run_folder = run_with_kfp_local(compile_to_yaml(looped, runner.store), tmp_path, monkeypatch, sizes=[40, 60])
    for index, size in enumerate([40, 60]):
        iteration = run_folder / f"for-loop-1-iteration-{index}"
        table = ours.node(f"players[{size}]").outputs["table"]["uri"]
        pd.testing.assert_frame_equal(pd.read_parquet(table), pd.read_parquet(iteration / "players" / "table"))
        theirs = json.loads((iteration / "size" / "executor_output.json").read_text())["parameterValues"]
        mine = {name: output["value"] for name, output in ours.node(f"size[{size}]").outputs.items()}
        assert theirs == mine == {"size": "small" if size < 50 else "big", "rows": size}
    pd.testing.assert_frame_equal(
        pd.read_parquet(ours.node("report").outputs["table"]["uri"]), pd.read_parquet(run_folder / "report" / "table")
    )


def test_edits_put_a_node_in_a_loop_and_removing_nodes_keeps_loops_valid(looped, toy_store) -> None:
    from pipelines import edits
    from pipelines.spec import Loop

    joined = edits.set_node_loop(looped, "report", "sizes", 3)
    assert joined.loops == {
        "per_size": Loop(for_each="${params.sizes}", parallelism=3, nodes=("players", "size", "report"))
    }
    assert edits.set_node_loop(joined, "report", None).loops["per_size"].nodes == ("players", "size")
    with pytest.raises(edits.EditRefused, match="reads 'players.table', which loop 'per_size' makes once per item"):
        edits.set_node_loop(looped, "size", None)  # it would read one iteration's table from outside the loop
    with pytest.raises(edits.EditRefused, match="no list run parameter 'size' \\(did you mean 'sizes'\\?\\)"):
        edits.set_node_loop(looped, "report", "size")
    removed = edits.remove_node(edits.remove_node(looped, "size"), "players")
    assert removed.loops == {} and removed.node("report").after == ()
    assert validate_workflow(removed, toy_store) == []


@pytest.mark.slow
def test_the_designer_repeats_a_step_over_a_list_parameter(demo_workspace, monkeypatch) -> None:
    from pathlib import Path

    import yaml
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    path = demo_workspace.find_workflow("player_features")
    path.write_text(
        path.read_text().replace(
            "params:\n  players:", "params:\n  seeds:\n    type: array\n    default: [1, 2]\n  players:", 1
        )
    )
    page = Path(__file__).resolve().parents[2] / "studio" / "screens" / "designer.py"

    def repeat(step: str) -> AppTest:
        app = AppTest.from_file(str(page), default_timeout=60)
        app.query_params["workflow"] = "risk/player_features"
        app.run()
        next(s for s in app.selectbox if s.label == "Step").select(step).run()
        next(s for s in app.selectbox if s.label == "Run once per item of").select("seeds")
        next(n for n in app.number_input if n.label.startswith("Iterations at once")).set_value(2)
        next(b for b in app.button if b.label == "Apply repeat").click().run()
        return app

    before = path.read_text()
    refused = repeat("encode")  # split, outside the loop, reads encode's table
    assert any("which loop 'per_seeds' makes once per item" in e.value for e in refused.error), [
        e.value for e in refused.error
    ]
    assert path.read_text() == before, "nothing written"
    repeat("split")
    assert yaml.safe_load(path.read_text())["loops"] == {
        "per_seeds": {"for_each": "${params.seeds}", "parallelism": 2, "nodes": ["split"]}
    }
