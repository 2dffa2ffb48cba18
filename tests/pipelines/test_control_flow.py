"""Control flow: `after` (wait without reading outputs) and `when` (run only if a condition over run
parameters and upstream parameter outputs holds), the same in the local runner and in the KFP IR.

KFP's semantics, as the local runner keeps them:

| construct | KFP | local runner |
|---|---|---|
| `after: [a]` | `task.after(a)`: starts once `a` succeeded | waits for `a`; skipped if `a` failed |
| `when:` false | the task sits in a `dsl.If` that is not entered | `not_run`, with the condition in its message |
| downstream of a node not run | inside the same `dsl.If`: not run | `not_run` ("upstream … did not run") |
| run with nodes not run | succeeded | succeeded |
| `when:` with `or` | a task evaluates it; `dsl.If` on its answer | evaluated in the driver |
"""

from __future__ import annotations

import pytest

from pipelines.compiler import compile_to_yaml, compile_workflow, task_name
from pipelines.runner import RunOptions
from pipelines.validation import validate_workflow
from pipelines.workflow_io import parse_workflow, workflow_to_yaml
from tessera.errors import CompileError
from tests.pipelines.conftest import states

FLOW = """name: flow
project: risk
params:
  rows: {type: integer, default: 300}
  min_rows: {type: integer, default: 100}
nodes:
- id: players
  component: sample_dataset@1.0.0
  params: {rows: '${params.rows}'}
- id: size
  component: measure@1.0.0
  params: {at_least: '${params.min_rows}'}
  inputs: {table: players.table}
- id: big
  component: select_columns@1.1.0
  when: size.size == 'big' and size.rows >= 200
  params: {columns: [player_id, is_cheater]}
  inputs: {table: players.table}
- id: big_profile
  component: profile_table@1.0.0
  inputs: {table: big.selected}
- id: small
  component: select_columns@1.1.0
  when: not size.size == 'big'
  params: {columns: [player_id]}
  inputs: {table: players.table}
- id: report
  component: profile_table@1.0.0
  after: [size]
  inputs: {table: players.table}
"""


@pytest.fixture
def flow():
    return parse_workflow(FLOW)


def test_conditions_choose_a_branch_and_after_orders_without_data(runner, flow) -> None:
    big = runner.run(flow, {"rows": 300}, RunOptions(no_cache=True))
    assert big.status == "succeeded"
    assert states(big) == {
        "players": "succeeded", "size": "succeeded", "big": "succeeded", "big_profile": "succeeded",
        "small": "not_run", "report": "succeeded",
    }  # fmt: skip
    assert big.node("size").outputs["size"]["value"] == "big" and big.node("size").outputs["rows"]["value"] == 300
    assert big.node("small").message == "not run: its condition not size.size == 'big' is false"
    assert big.node("report").started_at >= big.node("size").ended_at, "after: waits for size"

    neither = runner.run(flow, {"rows": 150})  # 'big' by at_least, but the second comparison fails
    assert neither.status == "succeeded"
    assert states(neither)["big"] == states(neither)["big_profile"] == states(neither)["small"] == "not_run"
    assert neither.node("big_profile").message == "not run: upstream 'big' did not run"
    small = runner.run(flow, {"rows": 150, "min_rows": 500})
    assert states(small)["small"] == "succeeded" and states(small)["big"] == "not_run"
    assert states(small)["players"] == "cached" and states(small)["report"] == "cached"

    again = runner.run(flow, {"rows": 300})  # cache hits inside a branch
    assert states(again)["big"] == states(again)["size"] == "cached" and states(again)["small"] == "not_run"


def test_the_ir_nests_conditions_and_orders_after(flow, toy_store) -> None:
    ir = compile_workflow(flow, toy_store)
    tasks = ir["root"]["dag"]["tasks"]
    assert (
        "dependentTasks" in tasks[task_name("report")]
        and task_name("size") in tasks[task_name("report")]["dependentTasks"]
    )
    conditions = [t for name, t in tasks.items() if name.startswith("condition-")]
    triggers = sorted(t["triggerPolicy"]["condition"] for t in conditions)
    assert len(triggers) == 2 and any("!=" in c and "'big'" in c for c in triggers), triggers
    nested = [
        component["dag"]["tasks"] for name, component in ir["components"].items() if name.startswith("comp-condition-")
    ]
    inner = {name for group in nested for name in group}
    assert {task_name("big"), task_name("big_profile"), task_name("small")} <= inner
    assert any(">=" in t.get("triggerPolicy", {}).get("condition", "") for g in nested for t in g.values()), (
        "`a and b`: the second comparison is a dsl.If inside the first"
    )
    from kfp import components

    components.load_component_from_text(compile_to_yaml(flow, toy_store))  # kfp loads what it compiled


def test_the_spec_round_trips_and_validation_names_each_mistake(flow, toy_store) -> None:
    assert parse_workflow(workflow_to_yaml(flow)) == flow
    broken = parse_workflow(
        FLOW.replace("size.size == 'big' and size.rows >= 200", "size.sise == 'big' or params.min_row + 1 > 3")
        .replace("not size.size == 'big'", "players.table != 'x'")
        .replace("after: [size]", "after: [sise, report]")
    )
    messages = [str(p) for p in validate_workflow(broken, toy_store)]
    assert any(
        "node 'big' › when: 'params.min_row + 1' is not allowed in a condition: only comparisons" in m for m in messages
    ), messages
    assert any(
        "node 'small' › when: 'players.table' is an artifact (Dataset); conditions read parameter outputs" in m
        for m in messages
    ), messages
    assert any(
        "node 'report' › after: waits for 'sise', which is not a node (did you mean 'size'?)" in m for m in messages
    )
    assert any("node 'report' › after: waits for itself" in m for m in messages)
    typo = parse_workflow(FLOW.replace("size.rows >= 200", "size.row >= 200 and params.min_row > 3"))
    messages = [str(p) for p in validate_workflow(typo, toy_store)]
    assert any("'size.row': no output 'row' (did you mean 'rows'?)" in m for m in messages), messages
    assert any("no run parameter 'min_row' (did you mean 'params.min_rows'?)" in m for m in messages), messages
    cycle = parse_workflow(FLOW.replace("after: [size]", "after: [big_profile]").replace(
        "  inputs: {table: big.selected}", "  inputs: {table: big.selected}\n  after: [report]"
    ))  # fmt: skip
    assert any("cycle" in str(p) for p in validate_workflow(cycle, toy_store))


def test_a_node_waiting_for_two_branches_is_refused_by_the_compiler(flow, toy_store) -> None:
    joined = parse_workflow(FLOW.replace("after: [size]", "after: [big, small]"))
    with pytest.raises(CompileError, match="node 'report' waits for nodes under different conditions"):
        compile_workflow(joined, toy_store)


@pytest.mark.slow
def test_the_designer_sets_a_condition_and_a_wait_and_the_card_shows_them(demo_workspace, monkeypatch) -> None:
    from pathlib import Path

    import yaml
    from streamlit.testing.v1 import AppTest

    from component_store.store import workspace_store
    from studio.canvas import flow_elements

    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    path = demo_workspace.find_workflow("player_features")
    page = Path(__file__).resolve().parents[2] / "studio" / "screens" / "designer.py"

    def designer() -> AppTest:
        app = AppTest.from_file(str(page), default_timeout=60)
        app.query_params["workflow"] = "risk/player_features"
        app.run()
        next(s for s in app.selectbox if s.label == "Step").select("split").run()
        return app

    app = designer()
    next(t for t in app.text_input if t.label == "Run only when").input("params.test_size * 2 > 0.1")
    next(b for b in app.button if b.label == "Apply").click().run()
    assert any("is not allowed in a condition" in e.value for e in app.error), "refused, nothing written"
    assert "when:" not in path.read_text()

    app = designer()
    next(t for t in app.text_input if t.label == "Run only when").input("params.test_size > 0.1")
    next(m for m in app.multiselect if m.label == "Wait for").select("profile")
    next(b for b in app.button if b.label == "Apply").click().run()
    split = next(n for n in yaml.safe_load(path.read_text())["nodes"] if n["id"] == "split")
    assert split["when"] == "params.test_size > 0.1" and split["after"] == ["profile"]
    spec = parse_workflow(path.read_text())
    nodes, _ = flow_elements(spec, workspace_store(demo_workspace))
    card = next(n for n in nodes if n["id"] == "split")["data"]["content"]
    assert "when params.test_size > 0.1" in card and "after profile" in card

    app = AppTest.from_file(str(page), default_timeout=60)
    app.query_params["workflow"] = "risk/player_features"
    app.run()
    next(s for s in app.selectbox if s.label == "Step").select("players").run()
    next(c for c in app.checkbox if c.label.startswith("Run last, whatever happened")).check()
    next(b for b in app.button if b.label == "Apply").click().run()
    assert any("waits for 'players', and an exit step runs last" in e.value for e in app.error), [
        e.value for e in app.error
    ]
    assert "on_exit" not in path.read_text()


EXIT = """name: nightly
project: risk
nodes:
- id: players
  component: sample_dataset@1.0.0
  params: {rows: 50}
- id: fragile
  component: flaky@1.0.0
  params: {marker: MARKER}
  inputs: {table: players.table}
- id: tell
  component: notify_webhook@1.0.0
  params: {url_env: '', url: URL, message: nightly}
on_exit: tell
"""


def test_the_exit_node_runs_last_whatever_happened_and_is_told_the_outcome(
    runner, toy_store, tmp_path, webhook
) -> None:
    url, received = webhook
    spec = parse_workflow(EXIT.replace("MARKER", str(tmp_path / "absent")).replace("URL", url))
    failed = runner.run(spec, {}, RunOptions(no_cache=True))
    assert failed.status == "failed" and states(failed)["fragile"] == "failed"
    assert states(failed)["tell"] == "succeeded" and failed.node("tell").started_at >= failed.node("fragile").ended_at
    assert [r["status"] for r in received] == ["failed"]
    (tmp_path / "absent").touch()
    passed = runner.run(spec, {})
    assert passed.status == "succeeded" and [r["status"] for r in received] == ["failed", "succeeded"]
    assert states(passed)["tell"] == "succeeded", "the exit node never comes from the cache"

    ir = compile_workflow(spec, toy_store)
    root = ir["root"]["dag"]["tasks"]
    assert root[task_name("tell")]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert "exit-handler-1" in root[task_name("tell")]["dependentTasks"]
    bad = parse_workflow(EXIT.replace("  params: {url_env: '', url: URL, message: nightly}", "  after: [players]"))
    assert any("'tell' runs after everything" in str(p) for p in validate_workflow(bad, toy_store))


OR_FLOW = FLOW.replace(
    "when: size.size == 'big' and size.rows >= 200", "when: size.size == 'small' or size.rows >= 200"
)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_or_runs_the_same_in_the_local_runner_and_through_kfp_local(runner, toy_store, tmp_path, monkeypatch) -> None:
    """`or` has no dsl.If of its own: the IR evaluates it in a task; kfp's local engine runs that IR and
    takes the same branches as the local runner."""
    from tests.pipelines.conftest import run_with_kfp_local

    spec = parse_workflow(OR_FLOW)
    ours = {rows: states(runner.run(spec, {"rows": rows, "min_rows": 100})) for rows in (150, 300)}
    assert ours[150]["big"] == "not_run", "150 rows: neither small (< 100) nor >= 200"
    assert ours[300]["big"] == ours[300]["big_profile"] == "succeeded", "300 rows: the second half holds"

    ir = compile_workflow(spec, toy_store)
    evaluators = [t for name, t in ir["root"]["dag"]["tasks"].items() if name.startswith("evaluate-condition")]
    assert len(evaluators) == 1 and evaluators[0]["taskInfo"]["name"].startswith("when size.size == 'small' or")
    sent = evaluators[0]["inputs"]["parameters"]
    assert sent["types"]["runtimeValue"]["constant"] == {"size.size": "string", "size.rows": "integer"}
    for rows in (150, 300):
        folder = run_with_kfp_local(compile_to_yaml(spec, toy_store), tmp_path / str(rows), monkeypatch, rows=rows)
        ran = {p.parent.name for p in folder.rglob("executor_output.json")}
        assert ("big" in ran) == (ours[rows]["big"] == "succeeded"), (rows, sorted(ran))
        assert ("small" in ran) == (ours[rows]["small"] == "succeeded"), (rows, sorted(ran))


def test_the_condition_task_reads_what_kubeflow_sends_as_the_declared_types() -> None:
    from pipelines.conditions import evaluate_sent

    types = {"size.rows": "integer", "params.force": "boolean", "gate.auc": "number", "gate.decision": "string"}
    sent = {"size.rows": "250", "params.force": "false", "gate.auc": "0.71", "gate.decision": "reject"}
    assert evaluate_sent("size.rows >= 200 or params.force == true", sent, types), "'250' is read as 250"
    assert not evaluate_sent("gate.auc > 0.8 or (gate.decision == 'accept' and size.rows > 1)", sent, types)
    assert evaluate_sent("not gate.auc > 0.8 and params.force == false", sent | {"params.force": False}, types)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::RuntimeWarning", "ignore::UserWarning")
def test_the_exit_node_is_told_the_final_status_locally_and_by_kfp_local(
    runner, toy_store, tmp_path, webhook, monkeypatch
) -> None:
    """notify_webhook 1.1.0 takes a dsl.PipelineTaskFinalStatus: the local runner fills it as KFP does, and
    kfp's own engine fills it for the compiled IR (ExitHandler) with the same outcome."""
    from tests.pipelines.conftest import run_with_kfp_local

    url, received = webhook
    text = EXIT.replace("notify_webhook@1.0.0", "notify_webhook@1.1.0").replace("URL", url)
    marker = tmp_path / "marker"
    spec = parse_workflow(text.replace("MARKER", str(marker)))
    failed = runner.run(spec, {}, RunOptions(no_cache=True))
    assert failed.status == "failed" and received[-1]["status"] == "failed"
    assert received[-1]["error"] == "node 'fragile' failed"
    run_with_kfp_local(compile_to_yaml(spec, toy_store), tmp_path / "failing", monkeypatch, raise_on_error=False)
    assert received[-1]["status"] == "failed", "kfp.local tells the exit task the run failed"
    marker.touch()
    run_with_kfp_local(compile_to_yaml(spec, toy_store), tmp_path / "passing", monkeypatch)
    assert received[-1]["status"] == "succeeded"
    assert runner.run(spec, {}).status == "succeeded" and received[-1]["status"] == "succeeded"

    wrong = parse_workflow(text.replace("on_exit: tell\n", "").replace("MARKER", str(marker)))
    assert any(
        "notify_webhook@1.1.0 is told how the run ended, so it runs last: make it the exit node (on_exit: tell)"
        in str(p)
        for p in validate_workflow(wrong, toy_store)
    )


def test_the_canvas_draws_waits_dashed_condition_reads_dotted_and_the_exit_node_apart(
    flow, toy_store, tmp_path
) -> None:
    from studio.canvas import flow_elements

    nodes, edges = flow_elements(flow, toy_store)
    by_id = {e["id"]: e for e in edges}
    assert by_id["after:size->report"]["style"]["strokeDasharray"] == "6 4"
    when = by_id["when:size->big"]
    assert when["label"] == "when size.size == 'big' and size.rows >= 200" and when["style"]["strokeDasharray"] == "2 4"
    assert "when:players->big" not in by_id, "the condition reads size, not players"
    assert len([e for e in edges if "->" in e["id"] and ":" not in e["id"]]) == len(list(flow.edges()))
    spec = parse_workflow(EXIT.replace("MARKER", str(tmp_path / "m")).replace("URL", "http://127.0.0.1:9/"))
    cards = {n["id"]: n for n in flow_elements(spec, toy_store)[0]}
    assert "double" in cards["tell"]["style"]["border"] and "⇥ _on exit" in cards["tell"]["data"]["content"]


def test_an_exit_step_is_set_and_cleared_by_edits_and_refused_where_it_reads_or_is_waited_for(tmp_path) -> None:
    from pipelines import edits

    spec = parse_workflow(EXIT.replace("on_exit: tell\n", "").replace("MARKER", "m").replace("URL", "http://h/"))
    made = edits.set_exit_node(spec, "tell", True)
    assert made.on_exit == "tell" and edits.set_exit_node(made, "tell", False).on_exit is None
    with pytest.raises(edits.EditRefused, match="'fragile' waits for 'players', and an exit step runs last"):
        edits.set_exit_node(spec, "players", True)
    with pytest.raises(edits.EditRefused, match="node 'fragile' reads outputs, waits or has a condition"):
        edits.set_exit_node(spec, "fragile", True)
    assert edits.remove_node(made, "tell").on_exit is None, "removing the exit step clears on_exit"
