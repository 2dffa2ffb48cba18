"""A run as pictures: the timeline of its steps, from a hand-made record (values in, figure out)."""

from __future__ import annotations

from pipelines.runs import NodeRecord, RunRecord
from studio.run_views import timeline_figure, timeline_rows


def record(*nodes: NodeRecord) -> RunRecord:
    return RunRecord(
        id="r1", workflow="risk/x", workflow_digest="", workflow_yaml="", params={}, backend="local", options={},
        status="running", created_at=990.0, started_at=1000.0, ended_at=None, driver_pid=None, driver_host=None,
        cancel_requested=False, message="", nodes=nodes,
    )  # fmt: skip


def test_the_timeline_places_each_started_step_from_the_runs_start_and_a_running_one_until_now() -> None:
    run = record(
        NodeRecord("players", "cached", started_at=1000.5, ended_at=1000.5),
        NodeRecord("train", "succeeded", started_at=1001.0, ended_at=1013.0),
        NodeRecord("evaluate", "running", started_at=1013.0),
        NodeRecord("deploy", "pending"),
    )
    rows = timeline_rows(run, now=1020.0)
    assert [(r["node"], r["status"], r["start"], round(r["seconds"], 2)) for r in rows] == [
        ("players", "cached", 0.5, 0.02),  # a cache hit: a sliver where it was decided
        ("train", "succeeded", 1.0, 12.0),
        ("evaluate", "running", 13.0, 7.0),
    ]
    figure = timeline_figure(run, now=1020.0)
    assert [trace.name for trace in figure.data] == ["cached", "succeeded", "running"]
    assert figure.layout.yaxis.categoryarray == ("evaluate", "train", "players")  # the first step on top
    assert timeline_figure(record(NodeRecord("deploy", "pending")), now=1020.0) is None


def test_a_runs_picture_is_its_workflow_with_its_states_and_nothing_to_edit() -> None:
    from component_store.store import ComponentStore
    from studio.run_views import run_picture_elements

    workflow = """name: x
project: risk
nodes:
- {id: players, component: sample_dataset@1.0.0}
- {id: fill, component: fill_missing@1.0.0, inputs: {table: players.table}}
"""
    run = record(
        NodeRecord("players", "cached", started_at=1000.0, ended_at=1000.0),
        NodeRecord("fill", "failed", started_at=1000.5, ended_at=1003.0),
    )
    run = run.__class__(**{**run.__dict__, "workflow_yaml": workflow})
    nodes, edges = run_picture_elements(run, ComponentStore())
    cards = {n["id"]: n for n in nodes}
    assert set(cards) == {"players", "fill"} and len(edges) == 1
    assert all(not n["draggable"] and not n["connectable"] and not n["deletable"] for n in nodes)
    assert "`failed · 2.5 s`" in str(cards["fill"]["data"]) and "`cached`" in str(cards["players"]["data"])
    assert edges[0]["deletable"] is False


def test_the_confusion_matrix_is_read_as_kfp_writes_it_and_a_broken_one_is_not_drawn() -> None:
    from kfp.dsl import ClassificationMetrics

    from studio.run_views import confusion_matrix

    written = ClassificationMetrics(name="curves")
    written.log_confusion_matrix(["fair", "cheater", "bot"], [[50, 2, 0], [3, 9, 1], [0, 0, 4]])
    assert confusion_matrix(written.metadata) == (["fair", "cheater", "bot"], [[50, 2, 0], [3, 9, 1], [0, 0, 4]])
    assert confusion_matrix({}) is None
    assert confusion_matrix({"confusionMatrix": {"annotationSpecs": [{"displayName": "a"}], "rows": []}}) is None


def test_a_looped_steps_data_comes_from_its_iterations() -> None:
    """A step in a loop runs as `fill[eu]`, `fill[us]`: its data and log are found by the step's name."""
    from pipelines.workflow_io import parse_workflow
    from studio.run_views import instances_of, run_with_current_outputs

    workflow = """name: x
project: risk
params:
  regions: {type: array, default: [eu, us]}
nodes:
- {id: players, component: sample_dataset@1.0.0}
- {id: fill, component: fill_missing@1.0.0, inputs: {table: players.table}}
loops:
  per_region: {for_each: '${params.regions}', nodes: [fill]}
"""
    run = record(
        NodeRecord("players", "succeeded", started_at=1000.0, ended_at=1001.0),
        NodeRecord("fill[eu]", "succeeded", started_at=1001.0, ended_at=1002.0),
        NodeRecord("fill[us]", "failed", started_at=1001.0, ended_at=1002.0),
    )
    run = run.__class__(**{**run.__dict__, "workflow_yaml": workflow, "status": "failed"})
    assert instances_of(run, "fill") == ["fill[eu]", "fill[us]"]
    assert instances_of(run, "fill[us]") == ["fill[us]"], "the Runs page names an iteration itself"
    assert instances_of(run, "players") == ["players"] and instances_of(run, "nothing") == []
    spec = parse_workflow(workflow)
    assert run_with_current_outputs([run], spec, "fill") is run, "one iteration made data: it is shown"
    changed = parse_workflow(
        workflow.replace("inputs: {table: players.table}", "params: {strategy: mean}, inputs: {table: players.table}")
    )
    assert run_with_current_outputs([run], changed, "fill") is None, "a changed step's old data is not"


def test_a_looped_steps_views_show_the_iteration_picked_in_any_of_them() -> None:
    from streamlit.testing.v1 import AppTest

    def views() -> None:
        import streamlit as st

        from pipelines.runs import NodeRecord, RunRecord
        from studio.run_views import pick_instance

        run = RunRecord(
            id="r1", workflow="risk/x", workflow_digest="", workflow_yaml="", params={}, backend="local",
            options={}, status="succeeded", created_at=990.0, started_at=1000.0, ended_at=1003.0, driver_pid=None,
            driver_host=None, cancel_requested=False, message="",
            nodes=(NodeRecord("fill[eu]", "succeeded"), NodeRecord("fill[us]", "succeeded")),
        )  # fmt: skip
        for view in ("data", "metrics", "log"):
            st.write(f"{view}: {pick_instance(run, 'fill', key=view)}")

    app = AppTest.from_function(views).run()
    assert [m.value for m in app.markdown] == ["data: fill[eu]", "metrics: fill[eu]", "log: fill[eu]"]
    app.selectbox[1].select("fill[us]").run()  # picked on the Metrics tab
    assert [m.value for m in app.markdown] == ["data: fill[us]", "metrics: fill[us]", "log: fill[us]"]
    app.selectbox[2].select("fill[eu]").run()
    assert [m.value for m in app.markdown] == ["data: fill[eu]", "metrics: fill[eu]", "log: fill[eu]"]
    assert not app.exception
