"""Where nodes sit on the canvas when the user has not put them there: a layered layout, left to right,
wrapped into bands like lines of text so that the designer's canvas shows it at a readable zoom.

Each node's column is the length of the longest chain of nodes it waits for (inputs, `after`, the
nodes its condition reads), so every edge points right. Within a column, nodes are ordered by the
average row of the nodes they wait for (one sweep, the usual barycentre heuristic), which keeps most
edges short and uncrossed; ties keep the file's order. A loop's steps come first in their column, the
column's other steps below them, clear of the loop's frame.

A long chain of columns drawn in one line would be shrunk by the canvas's fit-to-view until no name can
be read (the 9-column demo at a third of its size), so the columns are cut into bands stacked top to
bottom, as many columns a band as gives the largest zoom on a canvas of the designer's shape; a loop's
columns stay in one band, so its frame does not cover another band. Within a band every edge points
right; an edge into a later band points down. A pure function of the spec: the designer's "Tidy" writes
it, and a step added from the palette takes the first free place of its column.
"""

from __future__ import annotations

from pipelines.spec import Position, WorkflowSpec

COLUMN_WIDTH = 280.0  # a node card is 210 pixels wide; the rest is room for the edge's label
ROW_HEIGHT = 130.0
CARD_WIDTH, CARD_HEIGHT = 210.0, 150.0
LOOP_GAP_ROWS = 0.6  # below a loop's steps, room for its frame before the column's other steps
BAND_GAP_ROWS = 0.8  # between two bands, room for the edges that go down to the next one
CANVAS_WIDTH, CANVAS_HEIGHT = 1000.0, 620.0  # the designer's canvas on a 1500-pixel screen, in pixels


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
    return _wrapped(ids, column, row, _loop_spans(spec, column))


def fit_zoom(places: dict[str, Position]) -> float:
    """The zoom at which the canvas's fit-to-view shows all these places (1.0 at most)."""
    if not places:
        return 1.0
    width = max(p.x for p in places.values()) - min(p.x for p in places.values()) + CARD_WIDTH
    height = max(p.y for p in places.values()) - min(p.y for p in places.values()) + CARD_HEIGHT
    return min(1.0, CANVAS_WIDTH / width, CANVAS_HEIGHT / height)


def _loop_spans(spec: WorkflowSpec, column: dict[str, int]) -> list[tuple[int, int]]:
    spans = [[column[n] for n in loop.nodes if n in column] for loop in spec.loops.values()]
    return [(min(s), max(s)) for s in spans if s]


def _bands(columns: int, per_band: int, loop_spans: list[tuple[int, int]]) -> list[int]:
    """The band of each column: `per_band` columns a band, except that a loop's columns move together to
    the next band when they do not fit in the rest of this one."""
    band_of, band, used = [], 0, 0
    for col in range(columns):
        span = next((end - start + 1 for start, end in loop_spans if start == col), 1)
        starts_loop = any(start == col for start, _ in loop_spans)
        in_loop = any(start < col <= end for start, end in loop_spans)
        if used and not in_loop and (used >= per_band or (starts_loop and used + span > per_band)):
            band, used = band + 1, 0
        band_of.append(band)
        used += 1
    return band_of


def _wrapped(
    ids: list[str], column: dict[str, int], row: dict[str, float], loop_spans: list[tuple[int, int]]
) -> dict[str, Position]:
    """The layered places cut into bands, the cut that shows them at the largest zoom (fewest bands on ties)."""
    columns = max(column.values(), default=-1) + 1
    best: dict[str, Position] = {}
    for per_band in range(columns, 0, -1):
        band_of = _bands(columns, per_band, loop_spans)
        first_column = {band_of[c]: c for c in reversed(range(columns))}
        rows_of_band = [0.0] * (max(band_of, default=0) + 1)
        for node_id in ids:
            band = band_of[column[node_id]]
            rows_of_band[band] = max(rows_of_band[band], row[node_id] + 1)
        top = [sum(rows_of_band[:b]) + b * BAND_GAP_ROWS for b in range(len(rows_of_band))]
        places = {
            n: Position(
                x=(column[n] - first_column[band_of[column[n]]]) * COLUMN_WIDTH,
                y=(top[band_of[column[n]]] + row[n]) * ROW_HEIGHT,
            )
            for n in ids
        }
        if not best or fit_zoom(places) > fit_zoom(best) + 1e-9:
            best = places
    return best


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
