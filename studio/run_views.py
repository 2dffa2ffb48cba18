"""How a run's node outputs look in the studio: tables for Datasets, numbers and ROC curves for
metrics, the facts of a model. Shared by the designer's preview and the Runs page."""

from __future__ import annotations

from typing import Any

import streamlit as st

from pipelines import edits
from pipelines.loops import node_of_instance
from pipelines.runs import RunRecord, run_metrics
from pipelines.spec import Node, WorkflowSpec, param_reference
from pipelines.workflow_io import parse_workflow
from tessera.errors import TesseraError


def latest_workflow_run(records: list[RunRecord], node_ids: list[str]) -> RunRecord | None:
    """The newest run of the whole workflow: data previews (quick runs of a part of it) do not count."""
    for record in records:
        ran = {node_of_instance(n.node_id) for n in record.nodes}
        if not (record.options.get("sample") and ran < set(node_ids)):
            return record
    return None


def timeline_rows(record: RunRecord, now: float) -> list[dict[str, Any]]:
    """One bar per node that started: when it ran, from the run's start (seconds), and how it ended. A
    cache hit takes no time and is drawn as a sliver, so that it still shows where it was decided."""
    origin = record.started_at or record.created_at
    rows = []
    for node in record.nodes:
        if node.started_at is None:
            continue
        start = node.started_at - origin
        end = (node.ended_at or now) - origin
        rows.append({"node": node.node_id, "status": node.status, "start": start, "seconds": max(end - start, 0.02)})
    return rows


def timeline_figure(record: RunRecord, now: float) -> Any:
    """The run's steps on a time axis (plotly), coloured by state; None before any step started."""
    import plotly.graph_objects as go

    from studio.ui import STATUS_COLOURS

    rows = timeline_rows(record, now)
    if not rows:
        return None
    figure = go.Figure()
    for status in dict.fromkeys(row["status"] for row in rows):
        mine = [row for row in rows if row["status"] == status]
        figure.add_bar(
            y=[row["node"] for row in mine], x=[row["seconds"] for row in mine], base=[row["start"] for row in mine],
            orientation="h", name=status, marker_color=STATUS_COLOURS.get(status, "#9e9e9e"),
            hovertemplate="%{y}: %{x:.2f} s from %{base:.2f} s<extra>" + status + "</extra>",
        )  # fmt: skip
    order = [row["node"] for row in rows]
    figure.update_layout(
        height=120 + 22 * len(rows), barmode="overlay", margin={"l": 10, "r": 10, "t": 30, "b": 30},
        xaxis_title="seconds from the run's start", yaxis={"categoryorder": "array", "categoryarray": order[::-1]},
        title="Timeline",
    )  # fmt: skip
    return figure


def run_with_current_outputs(records: list[RunRecord], spec: WorkflowSpec, node_id: str) -> RunRecord | None:
    """The newest run (a whole run or a preview) whose outputs of `node_id` are what the step as it is now
    makes: the step and every step above it unchanged (component, parameters, bindings, conditions). The
    run parameters it read may differ from the current defaults: `params_differing` says which."""
    wanted = _made_by(spec, node_id)
    for record in records:
        if not any(record.node(i).status in ("succeeded", "cached") for i in instances_of(record, node_id)):
            continue
        try:
            ran = parse_workflow(record.workflow_yaml, f"run {record.id}")
        except TesseraError:
            continue
        if node_id in ran.node_ids() and _made_by(ran, node_id) == wanted:
            return record
    return None


def instances_of(record: RunRecord, node_id: str) -> list[str]:
    """The node records of a step in a run: the step itself, or each iteration of a step in a loop
    (`fill[eu]`, `fill[us]`…); an iteration's own id names just that one."""
    return [n.node_id for n in record.nodes if node_id in (n.node_id, node_of_instance(n.node_id))]


def pick_instance(record: RunRecord, node_id: str, key: str) -> str | None:
    """The step's node in `record`; for a step in a loop, the iteration the user picks (the first by default).

    Each of a step's views (the designer's Data, Metrics and Log tabs) has its own picker, and they all
    show the same iteration: a pick in one is remembered for the step and the others follow it."""
    found = instances_of(record, node_id)
    if len(found) <= 1:
        return found[0] if found else None
    chosen, widget = f"iteration-{record.id}-{node_id}", f"{key}-{record.id}-{node_id}"
    if st.session_state.get(chosen) in found and st.session_state.get(widget) != st.session_state[chosen]:
        st.session_state[widget] = st.session_state[chosen]

    def remember() -> None:  # runs before the rerun draws the other pickers
        st.session_state[chosen] = st.session_state[widget]

    return str(st.selectbox("Iteration", found, key=widget, on_change=remember))


def params_differing(record: RunRecord, spec: WorkflowSpec, node_id: str) -> dict[str, Any]:
    """The run parameters `node_id` and the steps above it read that `record` ran with other values than
    the workflow's defaults: name -> the run's value."""
    read = {name for n in edits.upstream_workflow(spec, node_id).nodes for name in _params_read(n)}
    return {
        name: record.params.get(name)
        for name in sorted(read)
        if name in spec.params and record.params.get(name) != spec.params[name].default
    }


def _made_by(spec: WorkflowSpec, node_id: str) -> list[dict[str, Any]]:
    """What a step's outputs depend on: it and its ancestors, without what does not change data."""
    part = edits.upstream_workflow(spec, node_id)
    return sorted((n.model_dump(exclude={"resources", "retries", "cache"}) for n in part.nodes), key=lambda d: d["id"])


def _params_read(node: Node) -> set[str]:
    return {name for value in node.params.values() if (name := param_reference(value))}


def step_seconds(record: RunRecord) -> dict[str, float]:
    """Seconds each step ran in `record` (a loop's iterations added up)."""
    seconds: dict[str, float] = {}
    for ran in record.nodes:
        if ran.seconds is not None:
            step = node_of_instance(ran.node_id)
            seconds[step] = seconds.get(step, 0.0) + ran.seconds
    return seconds


def run_picture_elements(record: RunRecord, store: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The run's workflow as the designer draws it, with this run's states and times on the cards, and
    nothing to drag, connect or delete: a record of what ran, not a place to edit."""
    from pipelines.loops import rolled_up
    from studio.canvas import flow_elements

    spec = parse_workflow(record.workflow_yaml, f"run {record.id}")
    statuses = rolled_up({n.node_id: n.status for n in record.nodes})
    nodes, edges = flow_elements(spec, store, statuses, seconds=step_seconds(record))
    for card in nodes:
        card.update(draggable=False, connectable=False, deletable=False, selectable=False)
    for edge in edges:
        edge.update(deletable=False)
    return nodes, edges


def numeric_metrics(record: RunRecord) -> dict[str, float]:
    """`node.metric` -> value for every number a node's Metrics output carries (to compare runs)."""
    return run_metrics(record)


def roc_points(metadata: dict[str, Any]) -> tuple[list[float], list[float]]:
    """(false positive rates, true positive rates) from KFP ClassificationMetrics' confidenceMetrics."""
    points = sorted(
        (float(p.get("falsePositiveRate", 0)), float(p.get("recall", 0)))
        for p in metadata.get("confidenceMetrics") or []
    )
    return [x for x, _ in points], [y for _, y in points]


METRIC_KINDS = frozenset({"Metrics", "ClassificationMetrics", "SlicedClassificationMetrics"})


def output_kind(output: dict[str, Any]) -> str:
    return str(output.get("type", "")).removeprefix("system.")


def show_node_outputs(record: RunRecord, node_id: str, only: str = "all") -> None:
    """A node's outputs: `only="data"` all but its metrics, `"metrics"` its metrics alone (the designer's
    Data and Metrics tabs), `"all"` everything (the Runs page)."""
    instance = pick_instance(record, node_id, key=f"outputs-{only}")
    if instance is None:
        st.info(f"run {record.id} did not run {node_id}")
        return
    node, node_id = record.node(instance), instance
    if node.status not in ("succeeded", "cached"):
        st.warning(f"{node_id} is {node.status}: {node.message or 'no outputs'}")
        return
    for name, output in node.outputs.items():
        kind = output_kind(output)
        if (only == "data" and kind in METRIC_KINDS) or (only == "metrics" and kind not in METRIC_KINDS):
            continue
        metadata = output.get("metadata") or {}
        st.markdown(f"**{node_id}.{name}** ({kind})")
        if kind == "Dataset":
            from pipelines.preview import PreviewError, preview_table

            try:
                table = preview_table(output["uri"], rows=20)
            except PreviewError as exc:
                st.info(str(exc))
                continue
            st.caption(f"{table.rows} rows × {len(table.columns)} columns")
            st.dataframe(table.head_frame(), width="stretch", hide_index=True)
            with st.expander("schema and column statistics"):
                st.dataframe(
                    [{"column": c.name, "type": c.type, "nulls": c.nulls, "min": str(c.minimum), "max": str(c.maximum)}
                     for c in table.columns],
                    width="stretch", hide_index=True,
                )  # fmt: skip
        elif kind == "Metrics":
            numbers = {k: v for k, v in metadata.items() if isinstance(v, int | float) and not isinstance(v, bool)}
            columns = st.columns(min(4, max(1, len(numbers))))
            for index, (key, value) in enumerate(numbers.items()):
                columns[index % len(columns)].metric(key, f"{value:.4g}")
            if metadata.get("feature_importance"):
                st.plotly_chart(importance_figure(metadata["feature_importance"]), width="stretch")
            if "optuna_study" in metadata:
                show_study_history(record, node_id)
            plots, mlflow_run = metadata.get("plots"), metadata.get("mlflow_run_id")
            if plots and mlflow_run:
                with st.expander(f"plots ({', '.join(p.split('/')[-1].removesuffix('.png') for p in plots)})"):
                    show_mlflow_plots(str(mlflow_run), list(plots))
        elif kind == "ClassificationMetrics":
            import plotly.graph_objects as go

            x, y = roc_points(metadata)
            if x:
                figure = go.Figure(go.Scatter(x=x, y=y, mode="lines", name="ROC"))
                figure.add_shape(type="line", x0=0, y0=0, x1=1, y1=1, line={"dash": "dot", "color": "gray"})
                figure.update_layout(title="ROC curve", xaxis_title="false positive rate",
                                     yaxis_title="true positive rate", height=320, margin={"t": 40, "b": 10})  # fmt: skip
                st.plotly_chart(figure, width="stretch")
            matrix = confusion_matrix(metadata)
            if matrix is not None:
                labels, counts = matrix
                heat = go.Figure(go.Heatmap(z=counts, x=labels, y=labels, colorscale="Blues", texttemplate="%{z}"))
                heat.update_layout(title="Confusion matrix", xaxis_title="predicted", yaxis_title="actual",
                                   yaxis={"autorange": "reversed"}, height=320, margin={"t": 40, "b": 10})  # fmt: skip
                st.plotly_chart(heat, width="stretch")
        else:
            shown = {k: v for k, v in metadata.items() if not isinstance(v, dict | list) or len(str(v)) < 400}
            st.json(shown, expanded=False)


def importance_figure(importance: dict[str, float]) -> Any:
    """Feature importance as horizontal bars, the largest on top."""
    import plotly.graph_objects as go

    names, values = list(importance), list(importance.values())
    figure = go.Figure(go.Bar(x=values[::-1], y=names[::-1], orientation="h", marker_color="#5c6bc0"))
    figure.update_layout(
        title="Feature importance (fall in the test score when the feature is shuffled)",
        height=max(240, 22 * len(names) + 80), margin={"t": 40, "b": 10, "l": 10}, yaxis={"automargin": True},
    )  # fmt: skip
    return figure


def show_study_history(record: RunRecord, node_id: str) -> None:
    """A tuning step's Optuna history (the Tuning page has its importances and parallel coordinates)."""
    from studio import ui
    from studio.tuning_views import tuning_nodes

    found = [t for t in tuning_nodes([record], ui.workspace().optuna_storage) if t.node_id == node_id]
    if not found:
        return
    with ui.user_errors(f"load study {found[0].study_name}"):
        import optuna
        from optuna import visualization

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.load_study(study_name=found[0].study_name, storage=found[0].storage)
        figure = visualization.plot_optimization_history(study)
        figure.update_layout(height=320, margin={"t": 40, "b": 10})
        st.plotly_chart(figure, width="stretch")


def confusion_matrix(metadata: dict[str, Any]) -> tuple[list[str], list[list[int]]] | None:
    """(class labels, counts: a row per actual class) from KFP ClassificationMetrics' confusionMatrix."""
    found = metadata.get("confusionMatrix") or {}
    labels = [str(spec.get("displayName", "")) for spec in found.get("annotationSpecs") or []]
    rows = [list(row.get("row") or []) for row in found.get("rows") or []]
    if not labels or len(rows) != len(labels) or any(len(row) != len(labels) for row in rows):
        return None
    return labels, rows


def show_mlflow_plots(run_id: str, paths: list[str]) -> None:
    """The evaluation PNGs a component logged to the model's MLflow run (precision-recall, calibration…)."""
    import tempfile

    from mlflow import MlflowClient

    from studio.ui import workspace

    client = MlflowClient(tracking_uri=workspace().tracking_uri())
    with tempfile.TemporaryDirectory() as folder:
        for path in paths:
            try:
                local = client.download_artifacts(run_id, path, folder)
            except Exception as exc:  # a run deleted from MLflow, a store moved: the numbers above still stand
                st.caption(f"{path}: not readable from MLflow ({type(exc).__name__})")
                continue
            st.image(local, caption=path)
