"""Monitoring: an endpoint's traffic over time, drift of its inputs and predictions against what its
version learned from (reference vs current per column), the monitors' checks and alerts, retrain now."""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from serving.monitoring import MonitorError, load_reference, monitor_report, parse_window, read_log
from serving.prediction_log import predictions_folder
from studio import ui

st.title("Monitoring")
workspace = ui.workspace()
endpoints = ui.endpoints().list()
if not endpoints:
    st.info("No endpoint yet: deploy one on **Endpoints** (the demo workflow ends in `cheater-api`).")
    st.stop()
left, middle, right = st.columns([2, 1, 1])
chosen = left.selectbox("Endpoint", [e.name for e in endpoints])
window = middle.selectbox("Window", ["1h", "24h", "7d", "30d"], index=1)
share = right.slider("Dataset drift at this share of columns", 0.05, 1.0, 0.5, 0.05)

seconds = parse_window(window)
logged = read_log(predictions_folder(workspace.state_dir, chosen), time.time() - seconds)

st.subheader("Traffic")
if logged.empty:
    st.info(
        f"{chosen} logged no prediction in the last {window}. Send some: `tessera demo traffic {chosen}` "
        f"(add `--shift` for a population that moved)."
    )
else:
    per_bucket = (
        logged.groupby([pd.Grouper(key="time", freq="5min"), "model_version"], observed=True)
        .size()
        .reset_index(name="rows")
    )
    figure = go.Figure(
        [go.Bar(x=g["time"], y=g["rows"], name=f"v{v}") for v, g in per_bucket.groupby("model_version", observed=True)],
        layout={"barmode": "stack", "height": 260, "margin": {"t": 10, "b": 10}, "yaxis_title": "rows / 5 min"},
    )
    st.plotly_chart(figure, width="stretch")
    st.caption(f"{len(logged)} scored rows in {logged['request_id'].nunique()} requests")

st.subheader("Drift")
report: dict[str, Any] | None
try:
    report = monitor_report(workspace, chosen, seconds, share)
except MonitorError as exc:
    st.info(str(exc))
    report = None
if report is not None:
    verdict = ":red[**dataset drift**]" if report["dataset_drift"] else ":green[no dataset drift]"
    st.markdown(
        f"{verdict}: {report['drift_share']:.0%} of columns drifted · {report['window']['rows']} logged rows of "
        f"{report['model_version']} vs a reference of {report['reference_rows']} training rows"
    )
    quality = {q["name"]: q for q in report["data_quality"]}
    rows = [
        {"column": c["name"], "kind": c["kind"], "statistic": c["statistic"], "value": round(c["value"], 4),
         "threshold": c["threshold"], "drifted": c["drifted"], "PSI": round(c["psi"], 3),
         "missing now": quality[c["name"]]["missing_current"],
         "out of range / unseen": quality[c["name"]].get("out_of_range", quality[c["name"]].get("unseen_share"))}
        for c in report["columns"]
    ]  # fmt: skip
    st.dataframe(rows, width="stretch", hide_index=True)
    if report.get("prediction"):
        p = report["prediction"]
        st.markdown(
            f"**Predictions** ({p['statistic']} {p['value']:.4g}, threshold {p['threshold']:g}): "
            + (":red[drifted]" if p["drifted"] else ":green[stable]")
        )
    column = st.selectbox("Reference vs current", [c["name"] for c in report["columns"]])
    record = ui.endpoints().registry.get(chosen)
    reference = load_reference(workspace.tracking_uri(), record.served[0].model_name, record.served[0].version)
    current = logged[logged["model_version"] == record.served[0].version][f"input:{column}"]
    figure = go.Figure(
        [
            go.Histogram(x=reference.sample[column], name="reference", histnorm="probability", opacity=0.6),
            go.Histogram(x=current, name="current", histnorm="probability", opacity=0.6),
        ],
        layout={"barmode": "overlay", "height": 280, "margin": {"t": 10, "b": 10}},
    )
    st.plotly_chart(figure, width="stretch")
    if "output:predictions" in logged.columns:
        st.plotly_chart(
            go.Figure(go.Histogram(x=logged["output:predictions"], name="predictions"),
                      layout={"height": 220, "margin": {"t": 10, "b": 10}, "xaxis_title": "prediction"}),
            width="stretch",
        )  # fmt: skip

st.subheader("Monitors and alerts")
monitors = [m for m in workspace.config.monitors if m.endpoint == chosen]
if not monitors:
    st.caption(
        "No monitor on this endpoint. Add one under `monitors:` in tessera.yaml (every, window, on_drift: run a "
        "workflow) and alerts under `alerts:`; `tessera up` checks them (docs/monitoring.md)."
    )
book = workspace.state_dir / "monitors.json"
history = [
    h for h in (json.loads(book.read_text()).get("history", []) if book.exists() else []) if h["endpoint"] == chosen
]
if history:
    st.dataframe(
        [{"checked": pd.Timestamp(h["at"], unit="s"), "status": h["status"], "drift share": h["drift_share"],
          "new episode": h["new_episode"], "retrain run": h["retrain_run"], "alerted": ", ".join(h["alerted"]),
          "message": h["message"]} for h in reversed(history[-50:])],
        width="stretch", hide_index=True,
    )  # fmt: skip
retrain = next((m.on_drift for m in monitors if m.on_drift is not None), None)
if retrain is not None and st.button(f"Retrain now: run {retrain.run}"):
    with ui.user_errors(f"start {retrain.run}"):
        from pipelines.workflow_io import load_workflow

        runner = ui.runner()
        spec = load_workflow(workspace.find_workflow(retrain.run), runner.store)
        started = runner.submit(spec, dict(retrain.params))
        st.success(f"Started run {started.id} of {retrain.run}: follow it on **Runs**")
