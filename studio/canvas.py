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
    "pending": "#eeeeee", "failed": "#ffcdd2", "skipped": "#f5f5f5", "not_run": "#fafafa", "cancelled": "#d7ccc8",
}  # fmt: skip


LOOP_FRAME = "loop-frame:"  # the id prefix of a loop's frame (node ids cannot hold ':')
_CARD_HEIGHT = 150  # about a card's height at the default zoom


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
    seconds: dict[str, float] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Nodes and edges as streamlit-flow dicts.

    A node's card reads: the step's name, its component@version, a status chip with the last run's
    time (`cached` for a cache hit, `not_run` under a false condition), one line of its key parameters,
    its `when` condition, `after` waits and loop; it is coloured by its last run status and red-edged if
    invalid; the exit node has a double border. Solid edges are data bindings (`out → inp`); dashed ones
    are `after` waits, dotted ones a condition's reads, labelled with it; a loop is a frame behind its
    steps. Only solid edges and steps are the user's to change on the canvas; the rest follows the forms.
    """
    from pipelines.layout import layered_layout
    from pipelines.loops import loop_of

    statuses, seconds = statuses or {}, seconds or {}
    looped = loop_of(spec)
    unplaced = layered_layout(spec) if any(n.id not in spec.layout for n in spec.nodes) else {}
    places = {node.id: spec.layout.get(node.id) or unplaced[node.id] for node in spec.nodes}
    nodes = [_loop_frame(spec, loop_id, places) for loop_id in spec.loops if spec.loops[loop_id].nodes]
    for node in spec.nodes:
        x, y = places[node.id].x, places[node.id].y  # a file written by hand has no layout
        status = statuses.get(node.id, "")
        border = "2px solid #c62828" if node.id in problems else "1px solid #90a4ae"
        if node.id == spec.on_exit and node.id not in problems:
            border = "4px double #6d4c41"
        chip = f"`{status}{f' · {seconds[node.id]:.1f} s' if node.id in seconds and status != 'cached' else ''}`"
        lines = [
            f"**{node.id}**",
            node.component,
            *([chip] if status else []),
            *([key_params(node.params)] if node.params else []),
            *([f"⎇ _when {node.when}_"] if node.when else []),
            *([f"⧗ _after {', '.join(node.after)}_"] if node.after else []),
            *([_loop_line(spec, looped[node.id])] if node.id in looped else []),
            *(["⇥ _on exit: runs last, whatever happened_"] if node.id == spec.on_exit else []),
        ]
        nodes.append({
            "id": node.id, "position": {"x": x, "y": y},
            "data": {"content": "\n\n".join(line for line in lines if line)},
            "type": "default", "sourcePosition": "right", "targetPosition": "left",
            "draggable": True, "selectable": True, "connectable": True, "deletable": True, "zIndex": 1,
            "style": {"background": STATUS_FILL.get(status, "#ffffff"), "border": border, "width": 210, "fontSize": 13,
                      "overflowWrap": "anywhere"},
        })  # fmt: skip
    data_pairs = {(src, dst) for src, _, dst, _ in spec.edges()}
    edges = [
        {"id": edge_id(src, out, dst, inp), "source": src, "target": dst,
         "label": f"{out} → {inp}" + _when_label(spec, src, dst, " · "),
         "deletable": True, "animated": statuses.get(dst) == "running"}
        for src, out, dst, inp in spec.edges()
    ]  # fmt: skip
    return nodes, edges + _control_edges(spec, data_pairs)


def _when_label(spec: WorkflowSpec, source: str, target: str, joint: str) -> str:
    """`when …` where the target's condition reads the source's output ('' otherwise)."""
    node = spec.node(target)
    if not node.when or source not in node.condition_upstream():
        return ""
    text = node.when if len(node.when) <= 40 else node.when[:39] + "…"
    return f"{joint}when {text}"


def _control_edges(spec: WorkflowSpec, data_pairs: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """Dashed `after` waits and dotted condition reads (where no data edge joins the two steps already)."""
    ids = set(spec.node_ids())
    edges = []
    for node in spec.nodes:
        for waited in node.after:
            if waited in ids:
                edges.append({
                    "id": f"after:{waited}->{node.id}", "source": waited, "target": node.id, "label": "after",
                    "deletable": False, "style": {"strokeDasharray": "6 4", "stroke": "#78909c"},
                })  # fmt: skip
        for source in sorted(node.condition_upstream() & ids):
            if (source, node.id) not in data_pairs and source not in node.after:
                edges.append({
                    "id": f"when:{source}->{node.id}", "source": source, "target": node.id,
                    "label": _when_label(spec, source, node.id, ""), "deletable": False,
                    "style": {"strokeDasharray": "2 4", "stroke": "#8d6e63"},
                })  # fmt: skip
    return edges


def _loop_frame(spec: WorkflowSpec, loop_id: str, places: dict[str, Any]) -> dict[str, Any]:
    """A frame drawn behind a loop's steps, named after the loop (not selectable, not movable)."""
    members = [places[n] for n in spec.loops[loop_id].nodes if n in places]
    left, top = min(p.x for p in members) - 24, min(p.y for p in members) - 48
    width = max(p.x for p in members) - left + 210 + 24
    height = max(p.y for p in members) - top + _CARD_HEIGHT + 24
    loop = spec.loops[loop_id]
    at_once = f" · {loop.parallelism} at once" if loop.parallelism else ""
    return {
        "id": f"{LOOP_FRAME}{loop_id}", "position": {"x": left, "y": top},
        "data": {"content": _loop_line(spec, loop_id) + at_once},
        "type": "input", "sourcePosition": "right", "targetPosition": "left",
        "draggable": False, "selectable": False, "connectable": False, "deletable": False, "zIndex": -1,
        "style": {"width": width, "height": height, "background": "rgba(92, 107, 192, 0.06)",
                  "border": "2px dashed #5c6bc0", "textAlign": "left", "fontSize": 12, "color": "#3949ab"},
    }  # fmt: skip


def _loop_line(spec: WorkflowSpec, loop_id: str) -> str:
    loop = spec.loops[loop_id]
    items = loop.for_each if isinstance(loop.for_each, str) else ", ".join(str(i) for i in loop.for_each)[:40]
    return f"↻ _loop {loop_id}: each of {items}_"


@dataclass(frozen=True)
class CanvasPicture:
    """What the canvas showed or sent back, as a comparable value: node positions, edges by id, selection."""

    positions: dict[str, tuple[float, float]]
    edges: dict[str, tuple[str, str]]  # edge id -> (source node, target node)
    selected: str | None = None

    @classmethod
    def of(cls, nodes: list[dict[str, Any]], edges: list[dict[str, Any]], selected: str | None = None) -> CanvasPicture:
        positions = {n["id"]: (float(n["position"]["x"]), float(n["position"]["y"])) for n in nodes}
        chosen = selected or next((n["id"] for n in nodes if n.get("selected")), None)
        return cls(positions, {e["id"]: (e["source"], e["target"]) for e in edges}, chosen)

    def named_after(self, drawn: CanvasPicture) -> CanvasPicture:
        """This picture with each edge the user drew named as the drawn edge it became (its binding's id).

        The canvas names a new edge `st-flow-edge_A-B`; once bound it is drawn as `A.out->B.in`. Naming
        both alike lets pictures from before and after a drawing be compared edge by edge.
        """
        by_pair: dict[tuple[str, str], list[str]] = {}
        for drawn_id, pair in drawn.edges.items():
            by_pair.setdefault(pair, []).append(drawn_id)
        renamed = {}
        for edge, pair in self.edges.items():
            same = by_pair.get(pair, [])
            renamed[same[0] if _binding_of(edge) is None and len(same) == 1 else edge] = pair
        return CanvasPicture(self.positions, renamed, self.selected)

    def shows(self, drawing: CanvasPicture) -> bool:
        """True when this picture already shows `drawing`: the same steps in the same places, the same edges."""
        same_places = self.positions.keys() == drawing.positions.keys() and all(
            abs(x - drawing.positions[n][0]) < 1 and abs(y - drawing.positions[n][1]) < 1
            for n, (x, y) in self.positions.items()
        )
        return same_places and set(self.named_after(drawing).edges) == set(drawing.edges)


def key_params(params: dict[str, Any], width: int = 34) -> str:
    """One short line of a step's parameters for its card, e.g. `label=is_cheater · test_size=0.2`."""
    text = " · ".join(f"{k}={v}" for k, v in params.items() if not isinstance(v, dict | list))
    return "_" + (text if len(text) <= width else text[: width - 1] + "…") + "_" if text else ""


def apply_canvas(
    spec: WorkflowSpec,
    store: ComponentStore,
    returned: CanvasPicture,
    drawn: CanvasPicture,
    seen: CanvasPicture | None = None,
) -> CanvasChange:
    """Turn what the user did on the canvas into edits of `spec` (the workflow as it is on disk now).

    The canvas sends back whole pictures, and a picture can be stale: an echo of an older drawing,
    or a user's edit made on a drawing that has changed since (a step added from the palette, an
    input bound in the side panel). So only what the user changed counts, and only against both
    pictures the canvas could have started from, the last one drawn and the last one it sent (`seen`):
    a step or edge is removed only when both had it and the returned picture does not (with no
    `seen` yet, nothing is removed); an edge is new only when neither had it; a step moved only when
    its position differs from both. Nothing the user did not touch is deleted or rebound, and an
    unbinding applies only while the input is still bound to exactly that output.

    A connection whose artifact types fit nothing is refused (listed in `refused`) and the rest of the
    change still applies; the returned spec never holds a mismatched binding.
    """
    notes: list[str] = []
    refused: list[str] = []
    returned = returned.named_after(drawn)
    before = seen.named_after(drawn) if seen else drawn
    removed = (set(drawn.positions) & set(before.positions)) - set(returned.positions) if seen else set()
    for node_id in [n for n in spec.node_ids() if n in removed]:
        spec = edits.remove_node(spec, node_id)
        notes.append(f"removed node {node_id}")

    moved = {
        node_id: position
        for node_id, position in returned.positions.items()
        if node_id in spec.node_ids()
        and position != drawn.positions.get(node_id)
        and position != before.positions.get(node_id)
    }
    if moved:
        spec = edits.move_nodes(spec, moved)

    gone = (set(drawn.edges) & set(before.edges)) - set(returned.edges) if seen else set()
    for gone_id in sorted(gone):
        binding = _binding_of(gone_id)
        if binding is None:
            continue
        src, out, dst, inp = binding
        if dst in spec.node_ids() and spec.node(dst).inputs.get(inp) == f"{src}.{out}":
            spec = edits.unbind(spec, dst, inp)
            notes.append(f"unbound {dst}.{inp} (was {src}.{out})")

    known = set(drawn.edges) | set(before.edges)
    linked = {(src, dst) for src, _, dst, _ in spec.edges()}
    for src, dst in sorted({pair for edge_id, pair in returned.edges.items() if edge_id not in known}):
        if src not in spec.node_ids() or dst not in spec.node_ids() or (src, dst) in linked:
            continue
        try:
            spec, made = edits.connect(spec, store, src, dst)
            linked.add((src, dst))
            notes.append(f"connected {src} to {dst}: {made}")
        except TesseraError as exc:
            refused.append(str(exc))
    selected = returned.selected if returned.selected in spec.node_ids() else None  # not a loop's frame
    return CanvasChange(spec, selected, notes, refused)


def edge_id(src: str, out: str, dst: str, inp: str) -> str:
    """The id a drawn edge carries: the binding it stands for, `src.out->dst.inp`."""
    return f"{src}.{out}->{dst}.{inp}"


def _binding_of(drawn_edge_id: str) -> tuple[str, str, str, str] | None:
    """The binding behind an edge this module drew; None for an edge the user just drew on the canvas."""
    source, arrow, target = drawn_edge_id.partition("->")
    if not arrow or "." not in source or "." not in target:
        return None
    src, out = source.rsplit(".", 1)
    dst, inp = target.rsplit(".", 1)
    return src, out, dst, inp
