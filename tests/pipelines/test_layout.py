"""The layered layout: every edge points right (or down into a later band), no two cards overlap, the demo
is shown at a readable zoom, a new step takes a free place in its column without moving what the user
placed, and Tidy lays out a 30-step workflow written by hand."""

from __future__ import annotations

import random

from pipelines import edits
from pipelines.layout import COLUMN_WIDTH, ROW_HEIGHT, fit_zoom, layered_layout, tidy
from pipelines.spec import Node, WorkflowSpec


def overlapping(places: dict) -> list[tuple[str, str]]:
    names = sorted(places)
    return [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :]
        if abs(places[a].x - places[b].x) < COLUMN_WIDTH * 0.8 and abs(places[a].y - places[b].y) < ROW_HEIGHT * 0.8
    ]  # fmt: skip


def band(places: dict, node_id: str) -> int:
    """Which band a card is in: bands are the runs of rows with less than 0.7 of an empty row between them
    (a loop's frame leaves 0.6 of a row inside a band; bands are 0.8 of a row apart)."""
    tops = sorted({p.y for p in places.values()})
    gaps = zip(tops, tops[1:], strict=False)
    starts = [tops[0]] + [y for previous, y in gaps if y - (previous + ROW_HEIGHT) >= 0.7 * ROW_HEIGHT]
    return sum(places[node_id].y >= start for start in starts) - 1


def reads_forward(places: dict, parent: str, child: str) -> bool:
    """Right of its parent within a band, or in a later band."""
    above, below = band(places, parent), band(places, child)
    return below > above or (below == above and places[child].x > places[parent].x)


def test_the_demo_is_laid_out_in_bands_of_layers_at_a_readable_zoom(demo_spec) -> None:
    places = layered_layout(demo_spec)
    assert set(places) == set(demo_spec.node_ids()) and not overlapping(places)
    for node in demo_spec.nodes:
        for parent in node.upstream():
            assert reads_forward(places, parent, node.id), f"{parent} → {node.id} points back"
    roots = [n.id for n in demo_spec.nodes if not n.upstream()]
    assert {places[r].x for r in roots} == {0.0}
    assert fit_zoom(places) >= 0.7, "13-pixel names drawn at 9 pixels or more"
    assert places["tune"].y > places["split"].y, "nine columns do not fit one line: the chain wraps"
    in_one_line = {n: p.model_copy(update={"x": p.x + band(places, n) * 5 * COLUMN_WIDTH}) for n, p in places.items()}
    assert fit_zoom(in_one_line) < 0.45, "what the canvas showed before"


def test_a_short_chain_stays_on_one_line() -> None:
    nodes = [Node(id="a", component="fill_missing@1.0.0")]
    nodes += [Node(id=b, component="fill_missing@1.0.0", inputs={"table": f"{a}.filled"}) for a, b in ["ab", "bc"]]
    places = layered_layout(WorkflowSpec(name="short", nodes=tuple(nodes)))
    assert {p.y for p in places.values()} == {0.0} and [places[n].x for n in "abc"] == [
        0.0,
        COLUMN_WIDTH,
        2 * COLUMN_WIDTH,
    ]


def test_thirty_random_steps_written_without_a_layout_are_tidied_without_overlaps() -> None:
    rng = random.Random(3)
    nodes = []
    for index in range(30):
        parents = rng.sample([n.id for n in nodes], k=min(len(nodes), rng.randint(0, 2)))
        inputs = {f"in{k}": f"{p}.table" for k, p in enumerate(parents)}
        nodes.append(Node(id=f"step{index:02d}", component="fill_missing@1.0.0", inputs=inputs))
    spec = WorkflowSpec(name="big", nodes=tuple(nodes))
    tidied = tidy(spec)
    assert len(tidied.layout) == 30 and not overlapping(tidied.layout)
    for node in tidied.nodes:
        assert all(reads_forward(tidied.layout, p, node.id) for p in node.upstream())
    assert tidy(tidied) == tidied, "tidying twice changes nothing"
    assert fit_zoom(tidied.layout) >= 0.6, "a wide layer drawn in sub-columns, the columns in bands"


def test_a_step_from_the_palette_takes_a_free_place_and_nothing_placed_moves(demo_spec, store) -> None:
    placed = tidy(demo_spec)
    added = edits.add_node(placed, store.resolve("notify_webhook@1.0.0"))
    new_id = added.nodes[-1].id
    assert {k: v for k, v in added.layout.items() if k != new_id} == placed.layout, "nothing the user placed moved"
    assert not overlapping(added.layout), "the new step sits where no step is"
    assert added.layout[new_id].x == 0.0, "unconnected, it starts a column of its own: the first"
    chained = edits.add_node(added, store.resolve("notify_webhook@1.0.0"), after=new_id)
    next_id = chained.nodes[-1].id
    assert chained.layout[next_id].x == added.layout[new_id].x + COLUMN_WIDTH, "right of the selected step"
    assert not overlapping(chained.layout)


def test_a_cycle_being_edited_still_gets_a_layout() -> None:
    spec = WorkflowSpec(name="loop", nodes=(
        Node(id="a", component="fill_missing@1.0.0", inputs={"table": "b.filled"}),
        Node(id="b", component="fill_missing@1.0.0", inputs={"table": "a.filled"}),
    ))  # fmt: skip
    assert not overlapping(layered_layout(spec))
