"""Notebook pictures: HTML tables for runs and model versions, an SVG drawing of a workflow's DAG,
and a live display that redraws a run as its nodes change.

Everything shown is escaped: names and messages come from users and from failing code.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipelines.runs import RunRecord
    from pipelines.spec import WorkflowSpec

STATE_COLOURS = {
    "pending": "#9e9e9e", "queued": "#9e9e9e", "running": "#f9a825", "cached": "#00838f",
    "succeeded": "#2e7d32", "failed": "#c62828", "skipped": "#6a1b9a", "not_run": "#5c6bc0",
    "cancelled": "#ef6c00",
}  # fmt: skip
NODE_WIDTH, NODE_HEIGHT, COLUMN_GAP, ROW_GAP = 150, 36, 60, 18


def table_html(caption: str, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> str:
    head = "".join(f"<th style='text-align:left'>{escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{cell}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><caption style='text-align:left'>{caption}</caption><tr>{head}</tr>{body}</table>"


def state_html(state: str) -> str:
    return f"<span style='color:{STATE_COLOURS.get(state, '#000')};font-weight:600'>{escape(state)}</span>"


def seconds_text(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def run_html(record: RunRecord) -> str:
    """A run as a table: one row per node with its state, time and message or outputs."""
    rows = [
        (
            escape(node.node_id),
            state_html(node.status),
            seconds_text(node.seconds) if node.status != "cached" else "",
            escape(node.message[:300] if node.message else ", ".join(node.outputs)),
        )
        for node in record.nodes
    ]
    caption = (
        f"run <b>{escape(record.id)}</b> · {escape(record.workflow)} · {state_html(record.status)} · "
        f"{seconds_text(record.seconds)}"
    )
    return table_html(caption, ("node", "state", "time", "detail"), rows)


def workflow_svg(spec: WorkflowSpec, states: dict[str, str] | None = None) -> str:
    """The DAG left to right: a column per depth, an arrow per data binding, dashed for `after` and `when`."""
    depth: dict[str, int] = {}
    for node_id in spec.topological_order():
        node = spec.node(node_id)
        depth[node_id] = 1 + max((depth[u] for u in node.upstream() if u in depth), default=-1)
    columns: dict[int, list[str]] = {}
    for node_id in spec.topological_order():
        columns.setdefault(depth[node_id], []).append(node_id)
    position = {
        node_id: (10 + column * (NODE_WIDTH + COLUMN_GAP), 10 + row * (NODE_HEIGHT + ROW_GAP))
        for column, ids in columns.items()
        for row, node_id in enumerate(ids)
    }
    width = 20 + max(columns, default=0) * (NODE_WIDTH + COLUMN_GAP) + NODE_WIDTH
    height = 20 + max((len(ids) for ids in columns.values()), default=1) * (NODE_HEIGHT + ROW_GAP)
    shapes = []
    for node in spec.nodes:
        for upstream in sorted(node.upstream()):
            dashed = upstream not in node.data_upstream()
            (x1, y1), (x2, y2) = position[upstream], position[node.id]
            dash = " stroke-dasharray='4 3'" if dashed else ""
            shapes.append(
                f"<line x1='{x1 + NODE_WIDTH}' y1='{y1 + NODE_HEIGHT / 2}' x2='{x2}' y2='{y2 + NODE_HEIGHT / 2}' "
                f"stroke='#78909c' marker-end='url(#arrow)'{dash}/>"
            )
    for node in spec.nodes:
        x, y = position[node.id]
        colour = STATE_COLOURS.get((states or {}).get(node.id, ""), "#455a64")
        component = node.component.split("@")[0]
        shapes.append(
            f"<g><title>{escape(node.id)}: {escape(node.component)}</title>"
            f"<rect x='{x}' y='{y}' width='{NODE_WIDTH}' height='{NODE_HEIGHT}' rx='6' fill='white' "
            f"stroke='{colour}' stroke-width='2'/>"
            f"<text x='{x + 8}' y='{y + 15}' font-size='12' font-weight='600'>{escape(node.id[:20])}</text>"
            f"<text x='{x + 8}' y='{y + 29}' font-size='10' fill='#607d8b'>{escape(component[:24])}</text></g>"
        )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-family='sans-serif'>"
        "<defs><marker id='arrow' viewBox='0 0 10 10' refX='10' refY='5' markerWidth='6' markerHeight='6' "
        "orient='auto-start-reverse'><path d='M 0 0 L 10 5 L 0 10 z' fill='#78909c'/></marker></defs>"
        + "".join(shapes)
        + "</svg>"
    )


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython is only looked at when something already loaded it)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and hasattr(shell, "kernel")


def live_run_display(enabled: bool = True) -> Callable[[RunRecord], None]:
    """A callback for a runner's `on_change`: in a notebook, one table redrawn in place; in a script,
    a line per node whose state changed; nothing when not `enabled`."""
    if not enabled:
        return lambda record: None
    if in_notebook():
        from IPython.display import HTML, display

        handle = display(HTML(""), display_id=True)
        last = [0.0]

        def redraw(record: RunRecord) -> None:
            if time.monotonic() - last[0] > 0.25 or record.status in ("succeeded", "failed", "cancelled"):
                last[0] = time.monotonic()
                handle.update(HTML(run_html(record)))

        return redraw
    seen: dict[str, str] = {}

    def print_changes(record: RunRecord) -> None:
        for node in record.nodes:
            if seen.get(node.node_id) != node.status:
                seen[node.node_id] = node.status
                print(f"{record.id} {node.node_id}: {node.status}", flush=True)

    return print_changes
