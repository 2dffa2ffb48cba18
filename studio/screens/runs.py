"""Runs: what ran, how each node did, its logs and outputs; compare runs; resume or cancel."""

from __future__ import annotations

import contextlib
import time

import streamlit as st

from studio import ui
from studio.run_views import numeric_metrics, run_picture_elements, show_node_outputs, timeline_figure
from tessera.errors import TesseraError
from tessera.sdk.runs import Run

st.title("Runs")
runner = ui.runner()


def show_sweeps() -> None:
    """A sweep's runs side by side, and a metric plotted against a swept parameter."""
    import plotly.express as px

    from pipelines.sweeps import Sweeps

    sweeps = Sweeps(ui.workspace(), runner, ui.store())
    known = [s for s in reversed(sweeps.all()) if ui.may_use(s.workflow.split("/")[0])]
    if not known:
        return
    with st.expander(f"Sweeps ({len(known)})", expanded=False):
        labels = {f"{s.id} · {s.workflow} · {' × '.join(s.grid)}": s for s in known}
        sweep = labels[st.selectbox("Sweep", list(labels))]
        rows = sweeps.compare(sweep)
        st.dataframe(rows, width="stretch", hide_index=True)
        metrics = [k for k in dict.fromkeys(k for r in rows for k in r) if "." in k]
        if metrics:
            left, right = st.columns(2)
            metric = left.selectbox("Metric", metrics)
            swept = right.selectbox("Against", list(sweep.grid))
            others = [k for k in sweep.grid if k != swept]
            figure = px.line(
                [r for r in rows if metric in r], x=swept, y=metric, color=others[0] if others else None, markers=True
            )
            st.plotly_chart(figure, width="stretch")


show_sweeps()
workflow_filter, status_filter = st.columns(2)
workflows = sorted({r.workflow for r in runner.runs.recent(limit=500) if ui.may_use(r.workflow.split("/")[0])})
workflow = workflow_filter.selectbox("Workflow", ["all", *workflows])
status = status_filter.selectbox("Status", ["all", "succeeded", "failed", "running", "queued", "cancelled"])
runs = [
    r
    for r in runner.runs.recent(
        limit=100, workflow=None if workflow == "all" else workflow, status=None if status == "all" else status
    )
    if ui.may_use(r.workflow.split("/")[0])
]
if not runs:
    st.info("No runs match. Start one from the Designer or with `tessera run`.")
    st.stop()
st.dataframe(
    [{"run": r.id, "workflow": r.workflow, "status": r.status, "started": ui.ago(r.started_at or r.created_at),
      "seconds": round(r.seconds or 0, 1), "quick": bool(r.options.get("sample")), "message": r.message} for r in runs],
    width="stretch", hide_index=True,
)  # fmt: skip

linked = st.query_params.get("run")  # a link from elsewhere (a model's lineage) names the run
ids = [r.id for r in runs]
if linked and linked not in ids:
    with contextlib.suppress(TesseraError):
        runs.insert(0, runner.runs.get(linked))
        ids.insert(0, linked)
run_id = st.selectbox("Run", ids, index=ids.index(linked) if linked in ids else 0)
run = Run(ui.runner_of(run_id), runner.runs.get(run_id), progress=False)  # the SDK's run: one implementation
record = run.record
st.markdown(f"### {record.workflow} · `{record.id}` {ui.status_badge(record.status)}")
if record.options.get("kubeflow_url"):
    st.markdown(f"Ran on Kubeflow ({record.options['namespace']}): [open the run]({record.options['kubeflow_url']})")
actions = st.columns(4)
resumable = record.backend == "local" and record.status not in ("running", "succeeded", "queued")
if actions[0].button("Resume", disabled=not resumable):
    with ui.user_errors(f"resume {record.id}"), st.spinner("resuming…"):
        run.resume()
        st.rerun()
if actions[1].button("Cancel", disabled=record.status not in ("running", "queued")):
    with ui.user_errors(f"cancel {record.id}"):
        run.cancel()
        st.rerun()


def run_picture() -> None:
    """The run's DAG with its states, read-only (the designer's canvas look)."""
    from streamlit_flow import streamlit_flow
    from streamlit_flow.elements import StreamlitFlowEdge, StreamlitFlowNode
    from streamlit_flow.state import StreamlitFlowState

    try:
        nodes, edges = run_picture_elements(record, ui.store())
    except TesseraError as exc:  # a component version this workspace no longer has
        st.caption(f"no picture of this run: {exc}")
        return
    state = StreamlitFlowState(
        [StreamlitFlowNode.from_dict(n) for n in nodes], [StreamlitFlowEdge.from_dict(e) for e in edges]
    )
    streamlit_flow(f"run-picture-{record.id}-{record.status}", state, height=360, fit_view=True, min_zoom=0.2,
                   hide_watermark=True)  # fmt: skip


run_picture()
timeline = timeline_figure(record, time.time())
if timeline is not None:
    st.plotly_chart(timeline, width="stretch")
st.dataframe(
    [{"node": n.node_id, "status": n.status, "seconds": round(n.seconds, 2) if n.seconds is not None else None,
      "cache hit": n.status == "cached", "attempts": n.attempts, "message": n.message} for n in record.nodes],
    width="stretch", hide_index=True,
)  # fmt: skip
with st.expander("Parameters"):
    st.json(record.params)
node_id = st.selectbox("Node", [n.node_id for n in record.nodes])
outputs_tab, logs_tab = st.tabs(["outputs", "logs"])
with outputs_tab:
    show_node_outputs(record, node_id)
with logs_tab:
    st.code(run.logs(node_id)[-20_000:] or "(empty)")

st.divider()
st.subheader("Compare runs")
chosen = st.multiselect("Runs to compare", [r.id for r in runs], default=[r.id for r in runs[:2]])
if len(chosen) >= 2:
    import pandas as pd

    records = [runner.status(r) for r in chosen]
    params = pd.DataFrame({r.id: {k: str(v) for k, v in r.params.items()} for r in records})
    metrics = pd.DataFrame({r.id: numeric_metrics(r) for r in records})
    st.markdown("**Parameters**")
    st.dataframe(params, width="stretch")
    st.markdown("**Metrics**")
    st.dataframe(metrics, width="stretch")
    if not metrics.empty:
        st.bar_chart(metrics.T)
