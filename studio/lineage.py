"""How a model version came to be, as a picture: the data source steps → the workflow run → the step
that trained it (and its component version) → its MLflow run → the model version → the endpoints that
serve it, with their share of traffic. Values in, a Graphviz graph out; each box links to its page (and
to MLflow's UI for runs and versions, where the studio knows its address)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from pipelines import edits
from pipelines.runs import RunRecord
from pipelines.workflow_io import parse_workflow
from tessera.errors import TesseraError


@dataclass(frozen=True)
class Box:
    key: str
    label: str
    kind: str  # data, run, step, component, mlflow, model, endpoint
    link: str = ""


@dataclass(frozen=True)
class Lineage:
    boxes: list[Box]
    arrows: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, label)

    def to_dot(self) -> str:
        """Graphviz DOT, left to right; a box with a link is clickable."""
        lines = ['digraph lineage {', '  rankdir=LR; node [shape=box, style="rounded,filled", fontname="sans-serif",'
                 ' fontsize=11]; edge [fontsize=9, color="#607d8b"];']  # fmt: skip
        for box in self.boxes:
            link = f', URL="{_dot_text(box.link)}", target="_top"' if box.link else ""
            colour = COLOURS.get(box.kind, "#eceff1")
            lines.append(f'  "{_dot_text(box.key)}" [label="{_dot_text(box.label)}", fillcolor="{colour}"{link}];')
        for source, target, label in self.arrows:
            style = ", style=dashed" if label == "uses" else ""
            lines.append(f'  "{_dot_text(source)}" -> "{_dot_text(target)}" [label="{_dot_text(label)}"{style}];')
        lines.append("}")
        return "\n".join(lines)


COLOURS = {
    "data": "#e3f2fd", "run": "#ede7f6", "step": "#e8f5e9", "component": "#f1f8e9", "mlflow": "#fff8e1",
    "model": "#fff3e0", "endpoint": "#fce4ec",
}  # fmt: skip


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def model_lineage(
    version: Any, run: RunRecord | None, endpoints: list[Any], mlflow_ui: str = "", experiment_id: str | None = None
) -> Lineage:
    """The lineage of `version` (a ModelVersionInfo): `run` is the workflow run its tags name (None when
    it was registered from a notebook or the run is gone), `endpoints` those the target reports."""
    tags = version.lineage
    model_key = f"model:{version.name}/{version.version}"
    aliases = f" @{', @'.join(version.aliases)}" if version.aliases else ""
    model_link = f"{mlflow_ui}/#/models/{quote(version.name)}/versions/{version.version}" if mlflow_ui else ""
    boxes = [Box(model_key, f"model {version.name} v{version.version}{aliases}", "model", model_link or "models")]
    arrows: list[tuple[str, str, str]] = []
    upstream_of_model = model_key
    if version.run_id:
        mlflow_key = f"mlflow:{version.run_id}"
        link = f"{mlflow_ui}/#/experiments/{experiment_id}/runs/{version.run_id}" if mlflow_ui and experiment_id else ""
        boxes.append(Box(mlflow_key, f"MLflow run {version.run_id[:8]}", "mlflow", link))
        arrows.append((mlflow_key, model_key, "registered"))
        upstream_of_model = mlflow_key
    run_id, node_id = tags.get("tessera.run_id"), tags.get("tessera.node")
    if run_id and node_id:
        step_key, run_key = f"step:{node_id}", f"run:{run_id}"
        component = tags.get("tessera.component", "")
        boxes.append(Box(step_key, f"step {node_id}", "step", f"runs?run={quote(run_id)}"))
        boxes.append(
            Box(run_key, f"run {run_id}\n{tags.get('tessera.workflow', '')}", "run", f"runs?run={quote(run_id)}")
        )
        arrows.append((step_key, upstream_of_model, "logged"))
        arrows.append((run_key, step_key, "ran"))
        if component:
            boxes.append(Box(f"component:{component}", f"component {component}", "component", "store"))
            arrows.append((f"component:{component}", step_key, "uses"))
        for source in _source_steps(run, node_id):
            boxes.append(Box(f"data:{source}", source, "data", f"runs?run={quote(run_id)}"))
            arrows.append((f"data:{source}", run_key, "read"))
    for endpoint in endpoints:
        for route in endpoint.routes:
            if route.model_name == version.name and route.version == str(version.version):
                key = f"endpoint:{endpoint.name}"
                boxes.append(
                    Box(key, f"endpoint {endpoint.name}\n{route.percent}% of traffic", "endpoint", "endpoints")
                )
                arrows.append((model_key, key, "serves" if route.percent == 100 else f"{route.percent}%"))
    return Lineage(boxes, arrows)


def _source_steps(run: RunRecord | None, node_id: str) -> list[str]:
    """The steps above `node_id` in the run that read no other step: where its data came from."""
    if run is None:
        return []
    try:
        spec = parse_workflow(run.workflow_yaml, f"run {run.id}")
        part = edits.upstream_workflow(spec, node_id)
    except (TesseraError, KeyError, ValueError):
        return []
    return [f"{n.id} · {n.component}" for n in part.nodes if n.id != node_id and not n.inputs and not n.after]
