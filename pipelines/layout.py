"""Where nodes sit on the canvas when the user has not put them there: a layered layout, left to right,
wrapped into bands like lines of text so that the designer's canvas shows it at a readable zoom.

Each node's column is the length of the longest chain of nodes it waits for (inputs, `after`, the
nodes its condition reads), so every edge points right. Within a column, nodes are ordered by the
average row of the nodes they wait for (one sweep, the usual barycentre heuristic), which keeps most
edges short and uncrossed; ties keep the file's order. A loop's steps come first in their column, the
column's other steps below them, clear of the loop's frame.

A long chain of columns drawn in one line would be shrunk by the canvas's fit-to-view until no name can
be read (the 9-column demo at a third of its size), so the columns are cut into bands stacked top to
bottom, and a layer taller than the rest is drawn in sub-columns side by side, in whichever combination
gives the largest zoom on a canvas of the designer's shape (the demo 0.44 → 0.75; 30 random steps
0.28–0.53 → 0.62); a loop's columns stay in one band and its layer whole, so its frame covers only it. Within a band every edge points
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
    return _best_fit(ids, column, row, in_loop, spec)


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


def _best_fit(
    ids: list[str], column: dict[str, int], row: dict[str, float], in_loop: set[str], spec: WorkflowSpec
) -> dict[str, Position]:
    """Of the ways to draw the layers, the one shown at the largest zoom (the simplest on ties): a layer
    taller than `most_rows` side by side in sub-columns (its steps do not feed each other, so every edge
    still points right; a layer with loop steps stays whole, inside its frame), then the columns cut into
    bands of `per_band`."""
    layers = max(column.values(), default=-1) + 1
    tallest = max((sum(column[n] == c for n in ids) for c in range(layers)), default=1)
    best: dict[str, Position] = {}
    for most_rows in range(tallest, 1, -1) if tallest > 2 else [tallest]:
        split_column, split_row = _split_tall_layers(ids, column, row, in_loop, most_rows)
        spans = _loop_spans(spec, split_column)
        columns = max(split_column.values(), default=-1) + 1
        for per_band in range(columns, 0, -1):
            places = _wrapped(ids, split_column, split_row, _bands(columns, per_band, spans))
            if not best or fit_zoom(places) > fit_zoom(best) + 1e-9:
                best = places
    return best


def _split_tall_layers(
    ids: list[str], column: dict[str, int], row: dict[str, float], in_loop: set[str], most_rows: int
) -> tuple[dict[str, int], dict[str, float]]:
    new_column, new_row, shift = {}, {}, 0
    for layer in range(max(column.values(), default=-1) + 1):
        members = sorted((n for n in ids if column[n] == layer), key=lambda n: row[n])
        split = len(members) > most_rows and not any(n in in_loop for n in members)
        for index, node_id in enumerate(members):
            new_column[node_id] = layer + shift + (index // most_rows if split else 0)
            new_row[node_id] = float(index % most_rows) if split else row[node_id]
        shift += (len(members) - 1) // most_rows if split else 0
    return new_column, new_row


def _wrapped(ids: list[str], column: dict[str, int], row: dict[str, float], band_of: list[int]) -> dict[str, Position]:
    """Places with the columns cut into bands (`band_of` each column), stacked top to bottom."""
    columns = len(band_of)
    first_column = {band_of[c]: c for c in reversed(range(columns))}
    rows_of_band = [0.0] * (max(band_of, default=0) + 1)
    for node_id in ids:
        band = band_of[column[node_id]]
        rows_of_band[band] = max(rows_of_band[band], row[node_id] + 1)
    top = [sum(rows_of_band[:b]) + b * BAND_GAP_ROWS for b in range(len(rows_of_band))]
    return {
        n: Position(
            x=(column[n] - first_column[band_of[column[n]]]) * COLUMN_WIDTH,
            y=(top[band_of[column[n]]] + row[n]) * ROW_HEIGHT,
        )
        for n in ids
    }


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
