"""Where nodes sit on the canvas when the user has not put them there: a layered layout, left to right.

Each node's column is the length of the longest chain of nodes it waits for (inputs, `after`, the
nodes its condition reads), so every edge points right. Within a column, nodes are ordered by the
average row of the nodes they wait for (one sweep, the usual barycentre heuristic), which keeps most
edges short and uncrossed; ties keep the file's order. A loop's steps come first in their column, the
column's other steps below them, clear of the loop's frame. A pure function of the spec: the designer's
"Tidy" writes it, and a step added from the palette takes the first free place of its column.
"""

from __future__ import annotations

from pipelines.spec import Position, WorkflowSpec

COLUMN_WIDTH = 300.0  # a node card is about 240 pixels wide
ROW_HEIGHT = 130.0
LOOP_GAP_ROWS = 0.6  # below a loop's steps, room for its frame before the column's other steps


def layered_layout(spec: WorkflowSpec) -> dict[str, Position]:
    """A position for every node (see the module docstring). A workflow with a cycle (invalid, but being
    edited) is laid out in file order, one column per node."""
    ids = spec.node_ids()
    try:
        order = spec.topological_order()
    except ValueError:
        return {node_id: Position(x=index * COLUMN_WIDTH, y=0.0) for index, node_id in enumerate(ids)}
    parents = {n.id: sorted(n.upstream() & set(ids), key=ids.index) for n in spec.nodes}
    in_loop = {node_id for loop in spec.loops.values() for node_id in loop.nodes}
    column: dict[str, int] = {}
    for node_id in order:
        column[node_id] = 1 + max((column[p] for p in parents[node_id]), default=-1)
    row: dict[str, float] = {}
    for depth in range(max(column.values(), default=-1) + 1):
        members = [n for n in ids if column[n] == depth]

        def barycentre(node_id: str) -> float:
            above = [row[p] for p in parents[node_id]]
            return sum(above) / len(above) if above else float(ids.index(node_id))

        members.sort(key=lambda n: (barycentre(n), ids.index(n)))
        # a loop's steps first, then the others half a row further down: clear of the loop's frame
        looped = [n for n in members if n in in_loop]
        others = [n for n in members if n not in in_loop]
        gap = LOOP_GAP_ROWS if looped and others else 0.0
        for index, node_id in enumerate(looped):
            row[node_id] = float(index)
        for index, node_id in enumerate(others):
            row[node_id] = len(looped) + gap + index
    return {n: Position(x=column[n] * COLUMN_WIDTH, y=row[n] * ROW_HEIGHT) for n in ids}


def tidy(spec: WorkflowSpec) -> WorkflowSpec:
    """The spec with every node at its layered place."""
    return spec.model_copy(update={"layout": layered_layout(spec)})


def free_place(spec: WorkflowSpec, node_id: str, after: str | None = None) -> Position:
    """Where a node without a place goes: the column right of `after` (the step the user has selected, so
    steps added one after another form a chain), else its layered column; in the first row there that no
    placed node covers."""
    placed = spec.layout.get(after) if after else None
    wanted = Position(x=placed.x + COLUMN_WIDTH, y=placed.y) if placed else layered_layout(spec)[node_id]
    taken = [p for other, p in spec.layout.items() if other != node_id]
    y = wanted.y
    while any(abs(p.x - wanted.x) < COLUMN_WIDTH * 0.8 and abs(p.y - y) < ROW_HEIGHT * 0.8 for p in taken):
        y += ROW_HEIGHT
    return Position(x=wanted.x, y=y)
