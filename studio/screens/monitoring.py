"""Monitoring: an endpoint's traffic and latency over time, drift of its inputs and predictions against
what its version learned from (reference vs current per column), performance once labels arrived, the
monitors' checks and alerts, retrain now. The drift report is computed once a minute per endpoint,
window and threshold, not on every click."""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from serving.monitoring import (
    MonitorError,
    endpoint_log_folder,
    load_reference,
    monitor_report,
    parse_window,
    performance_file,
    read_log,
)
from serving.prediction_log import log_files
from studio import ui


@st.cache_data(ttl=120, show_spinner="Comparing the logged window with the training data…")
def drift_report(endpoint: str, seconds: float, share: float, minute: float, newest: list[str]) -> dict[str, Any]:
    """The report as of `minute`, reused by reruns until the minute or the newest log file changes
    (a MonitorError is raised again each time: Streamlit does not cache exceptions)."""
    return monitor_report(ui.workspace(), endpoint, seconds, share, now=minute)


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
record = ui.endpoints().registry.get(chosen)
minute = (time.time() // 60 + 1) * 60  # the end of this minute: what was logged just now counts
log_folder = endpoint_log_folder(workspace, chosen, record.target)
logged = read_log(log_folder, minute - seconds)
span = [pd.Timestamp(minute - seconds, unit="s", tz="UTC"), pd.Timestamp(minute, unit="s", tz="UTC")]  # the window

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
        layout={
            "barmode": "stack",
            "height": 260,
            "margin": {"t": 10, "b": 10},
            "yaxis_title": "rows / 5 min",
            "xaxis_range": span,
        },
    )
    st.plotly_chart(figure, width="stretch")
    st.caption(f"{len(logged)} scored rows in {logged['request_id'].nunique()} requests")
    timed = (
        logged.drop_duplicates("request_id")[["time", "latency_ms"]].dropna()
        if "latency_ms" in logged.columns
        else pd.DataFrame()
    )
    if not timed.empty:  # the cluster's logger does not time requests
        latency = timed.groupby(pd.Grouper(key="time", freq="5min"))["latency_ms"]
        quantiles = pd.DataFrame({"p50": latency.median(), "p95": latency.quantile(0.95)}).dropna()
        st.plotly_chart(
            go.Figure(
                [go.Scatter(x=quantiles.index, y=quantiles[q], name=q, mode="lines+markers") for q in ("p50", "p95")],
                layout={
                    "height": 220,
                    "margin": {"t": 10, "b": 10},
                    "yaxis_title": "latency (ms)",
                    "xaxis_range": span,
                },
            ),
            width="stretch",
        )

st.subheader("Drift")
report: dict[str, Any] | None
try:
    report = drift_report(chosen, seconds, share, minute, log_files(log_folder)[-1:])
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

st.subheader("Performance")
performance = performance_file(workspace, chosen)
if not performance.exists():
    st.caption(
        f"No labels yet. When outcomes arrive (chargebacks, confirmed cheaters), join them to the logged "
        f"predictions: `tessera monitor labels {chosen} labels.csv --key request_id` (or an id column)."
    )
else:
    scored = json.loads(performance.read_text())
    names = sorted({k for w in scored["windows"] for k in w} - {"from", "model_version", "rows"})
    metric = st.selectbox("Metric", names) if names else None
    if metric:
        windows = pd.DataFrame(scored["windows"])
        figure = go.Figure(
            [go.Scatter(x=windows["from"], y=windows[metric], mode="lines+markers", name="labelled traffic")],
            layout={"height": 240, "margin": {"t": 10, "b": 10}, "yaxis_title": metric},
        )
        if metric in scored["test_metrics"]:
            figure.add_hline(y=scored["test_metrics"][metric], line_dash="dash", annotation_text="test set")
        st.plotly_chart(figure, width="stretch")
        st.caption(f"{scored['labelled_rows']} labelled predictions, joined by {scored['key']}")

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
