"""A property of the canvas: whatever the panel changed meanwhile, and however stale the canvas's picture is,
applying what the user did on the canvas removes or unbinds only what the user removed there."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines import edits
from studio.canvas import CanvasPicture, apply_canvas, flow_elements

PALETTE = ["fill_missing@1.0.0", "select_columns@1.0.0", "profile_table@1.0.0"]


def picture(spec, store) -> CanvasPicture:
    return CanvasPicture.of(*flow_elements(spec, store))


def panel_edit(spec, store, kind: int, pick: int):
    """One edit made outside the canvas (palette or side panel)."""
    if kind == 0:
        return edits.add_node(spec, store.resolve(PALETTE[pick % len(PALETTE)]))
    if kind == 1:
        return edits.remove_node(spec, spec.node_ids()[pick % len(spec.node_ids())])
    bound = [(n.id, name) for n in spec.nodes for name in n.inputs]
    if not bound:
        return spec
    node, name = bound[pick % len(bound)]
    return edits.unbind(spec, node, name)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    panel=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 50)), max_size=4),
    redrawn=st.booleans(),
    user=st.tuples(st.sampled_from(["delete node", "delete edge", "nothing"]), st.integers(0, 50)),
)
def test_only_what_the_user_removed_on_the_canvas_is_removed(demo_spec, store, panel, redrawn, user) -> None:
    canvas = picture(demo_spec, store)  # what the user sees and acts on: maybe older than the file
    current = demo_spec
    for kind, pick in panel:
        current = panel_edit(current, store, kind, pick)
    drawn = picture(current, store) if redrawn else canvas

    action, pick = user
    positions, pictured_edges = dict(canvas.positions), dict(canvas.edges)
    removed_node = removed_edge = None
    if action == "delete node":
        removed_node = sorted(positions)[pick % len(positions)]
        positions.pop(removed_node)
        pictured_edges = {k: v for k, v in pictured_edges.items() if removed_node not in v}
    elif action == "delete edge" and pictured_edges:
        removed_edge = sorted(pictured_edges)[pick % len(pictured_edges)]
        pictured_edges.pop(removed_edge)
    returned = CanvasPicture(positions, pictured_edges)

    result = apply_canvas(current, store, returned, drawn, seen=canvas).spec
    expected_nodes = [n for n in current.node_ids() if n != removed_node or removed_node not in drawn.positions]
    assert result.node_ids() == expected_nodes
    for node in result.nodes:
        for name, source in current.node(node.id).inputs.items():
            if node.id in result.node_ids() and source.split(".")[0] in result.node_ids():
                lost = f"{source}->{node.id}.{name}" == removed_edge and removed_edge in drawn.edges
                assert (node.inputs.get(name) == source) != lost, f"{node.id}.{name} ({source})"
    assert not (set(result.node_ids()) - set(current.node_ids())), "the canvas never adds steps"


@pytest.mark.parametrize("echoes", [1, 5])
def test_echoes_of_any_old_picture_change_nothing(demo_spec, store, echoes: int) -> None:
    older = picture(demo_spec, store)
    current = edits.add_node(edits.unbind(demo_spec, "evaluate", "test"), store.resolve("fill_missing@1.0.0"))
    drawn, seen = picture(current, store), older
    for _ in range(echoes):
        change = apply_canvas(current, store, older, drawn, seen)
        assert change.spec == current and not change.notes
        seen = older
