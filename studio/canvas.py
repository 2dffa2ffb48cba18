"""The designer's canvas (streamlit-flow) in plain functions: a workflow drawn as flow nodes and
edges, and what the user did on the canvas turned back into workflow edits.

Custom components are opaque to Streamlit's AppTest, so everything here is tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from component_store.store import ComponentStore
from pipelines import edits
from pipelines.spec import WorkflowSpec
from tessera.errors import TesseraError

STATUS_FILL = {
    "succeeded": "#c8e6c9", "cached": "#dcedc8", "running": "#fff59d", "queued": "#eeeeee",
    "pending": "#eeeeee", "failed": "#ffcdd2", "skipped": "#f5f5f5", "cancelled": "#d7ccc8",
}  # fmt: skip


@dataclass(frozen=True)
class CanvasChange:
    """The workflow after a canvas interaction, and what to tell the user about it."""

    spec: WorkflowSpec
    selected: str | None = None
    notes: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)


def flow_elements(
    spec: WorkflowSpec,
    store: ComponentStore,
    statuses: dict[str, str] | None = None,
    problems: frozenset[str] | set[str] = frozenset(),
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges as streamlit-flow dicts; a node is coloured by its last run status, red-edged if invalid."""
    statuses = statuses or {}
    nodes = []
    for index, node in enumerate(spec.nodes):
        position = spec.layout.get(node.id)
        x, y = (position.x, position.y) if position else (index * 260.0, 100.0)
        status = statuses.get(node.id, "")
        border = "2px solid #c62828" if node.id in problems else "1px solid #90a4ae"
        nodes.append({
            "id": node.id, "position": {"x": x, "y": y},
            "data": {"content": f"**{node.id}**\n\n{node.component}" + (f"\n\n_{status}_" if status else "")},
            "type": "default", "sourcePosition": "right", "targetPosition": "left",
            "draggable": True, "selectable": True, "connectable": True, "deletable": True,
            "style": {"background": STATUS_FILL.get(status, "#ffffff"), "border": border, "width": 190},
        })  # fmt: skip
    edges = [
        {"id": f"{src}.{out}->{dst}.{inp}", "source": src, "target": dst, "label": f"{out} → {inp}",
         "deletable": True, "animated": statuses.get(dst) == "running"}
        for src, out, dst, inp in spec.edges()
    ]  # fmt: skip
    return nodes, edges


def apply_canvas(
    spec: WorkflowSpec, store: ComponentStore, nodes: list[dict[str, Any]], edges: list[dict[str, Any]]
) -> CanvasChange:
    """Turn the canvas's returned nodes/edges into edits: moves, deletions, new connections.

    A connection whose artifact types fit nothing is refused (listed in `refused`) and the
    rest of the change still applies; the returned spec never holds a mismatched binding.
    """
    notes: list[str] = []
    refused: list[str] = []
    present = {n["id"] for n in nodes}
    for node_id in [n for n in spec.node_ids() if n not in present]:
        spec = edits.remove_node(spec, node_id)
        notes.append(f"removed node {node_id}")
    spec = edits.move_nodes(spec, {n["id"]: (n["position"]["x"], n["position"]["y"]) for n in nodes})

    drawn = {(e["source"], e["target"]) for e in edges}
    for src, out, dst, inp in list(spec.edges()):
        if (src, dst) not in drawn:
            spec = edits.unbind(spec, dst, inp)
            notes.append(f"unbound {dst}.{inp} (was {src}.{out})")
    existing = {(src, dst) for src, _, dst, _ in spec.edges()}
    for src, dst in sorted(drawn - existing):
        try:
            spec, made = edits.connect(spec, store, src, dst)
            notes.append(f"connected {src} to {dst}: {made}")
        except TesseraError as exc:
            refused.append(str(exc))
    selected = next((n["id"] for n in nodes if n.get("selected")), None)
    return CanvasChange(spec, selected, notes, refused)
