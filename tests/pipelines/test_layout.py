"""The layered layout: every edge points right, no two cards overlap, a new step takes a free place in its
column without moving what the user placed, and Tidy lays out a 30-step workflow written by hand."""

from __future__ import annotations

import random

from pipelines import edits
from pipelines.layout import COLUMN_WIDTH, ROW_HEIGHT, layered_layout, tidy
from pipelines.spec import Node, WorkflowSpec


def overlapping(places: dict) -> list[tuple[str, str]]:
    names = sorted(places)
    return [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :]
        if abs(places[a].x - places[b].x) < COLUMN_WIDTH * 0.8 and abs(places[a].y - places[b].y) < ROW_HEIGHT * 0.8
    ]  # fmt: skip


def test_the_demo_is_laid_out_in_layers_with_every_edge_pointing_right(demo_spec) -> None:
    places = layered_layout(demo_spec)
    assert set(places) == set(demo_spec.node_ids()) and not overlapping(places)
    for node in demo_spec.nodes:
        for parent in node.upstream():
            assert places[parent].x < places[node.id].x, f"{parent} → {node.id} points left"
    roots = [n.id for n in demo_spec.nodes if not n.upstream()]
    assert {places[r].x for r in roots} == {0.0}


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
        assert all(tidied.layout[p].x < tidied.layout[node.id].x for p in node.upstream())
    assert tidy(tidied) == tidied, "tidying twice changes nothing"


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
