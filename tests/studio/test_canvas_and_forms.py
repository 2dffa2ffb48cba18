"""The designer's canvas and forms as plain functions (custom components are opaque to AppTest)."""

from __future__ import annotations

import pytest

from component_store.spec import ParamSpec
from pipelines import edits
from studio.canvas import STATUS_FILL, CanvasPicture, apply_canvas, flow_elements
from studio.forms import read_form, references_for


def canvas_of(spec, store, **kwargs):
    nodes, edges = flow_elements(spec, store, **kwargs)
    return nodes, edges


def picture_of(spec, store) -> CanvasPicture:
    return CanvasPicture.of(*flow_elements(spec, store))


def test_flow_elements_draw_every_node_and_binding_coloured_by_status(demo_spec, store):
    nodes, edges = flow_elements(demo_spec, store, {"split": "failed", "players": "succeeded"}, {"tune"})
    assert [n["id"] for n in nodes] == demo_spec.node_ids()
    by_id = {n["id"]: n for n in nodes}
    assert by_id["split"]["style"]["background"] == STATUS_FILL["failed"]
    assert by_id["players"]["style"]["background"] == STATUS_FILL["succeeded"]
    assert "c62828" in by_id["tune"]["style"]["border"], "an invalid node is outlined in red"
    assert by_id["serve"]["position"] == demo_spec.layout["serve"].model_dump()
    assert {"source": "split", "target": "tune", "label": "train → train"}.items() <= next(
        e for e in edges if e["target"] == "tune"
    ).items()
    assert len(edges) == 13


def test_canvas_moves_deletes_and_connects_and_refuses_a_mismatch(demo_spec, store):
    drawn = picture_of(demo_spec, store)
    nodes, edges = canvas_of(demo_spec, store)
    nodes = [n for n in nodes if n["id"] != "profile"]  # deleted on the canvas
    nodes[0] = nodes[0] | {"position": {"x": 5.0, "y": 7.0}, "selected": True}  # players moved and selected
    edges = [e for e in edges if e["target"] != "evaluate" or "test" not in e["label"]]  # split -> evaluate deleted
    change = apply_canvas(demo_spec, store, CanvasPicture.of(nodes, edges), drawn, seen=drawn)
    assert "profile" not in change.spec.node_ids()
    assert change.spec.layout["players"].x == 5.0 and change.selected == "players"
    assert "test" not in change.spec.node("evaluate").inputs
    assert "unbound evaluate.test (was split.test)" in change.notes

    drawn = picture_of(change.spec, store)
    nodes, edges = canvas_of(change.spec, store)
    edges.append({"id": "new-1", "source": "split", "target": "evaluate"})  # drawn: test goes to test, not train
    edges.append({"id": "new-2", "source": "tune", "target": "fill"})  # a Model into fill: refused
    again = apply_canvas(change.spec, store, CanvasPicture.of(nodes, edges), drawn, seen=drawn)
    assert again.spec.node("evaluate").inputs["test"] == "split.test"
    assert again.refused and "cannot connect tune to fill" in again.refused[0]
    assert again.spec.node("fill").inputs == change.spec.node("fill").inputs


def test_an_untouched_canvas_changes_nothing(demo_spec, store):
    drawn = picture_of(demo_spec, store)
    for seen in (None, drawn):
        change = apply_canvas(demo_spec, store, drawn, drawn, seen)
        assert change.spec == demo_spec and not change.notes and not change.refused


def test_a_stale_echo_never_deletes_a_step_added_since(demo_spec, store):
    """The palette added a step after the canvas sent its last picture; the old picture comes back."""
    old = picture_of(demo_spec, store)
    added = edits.add_node(demo_spec, store.resolve("fill_missing@1.0.0"))
    new_id = added.nodes[-1].id
    for seen in (None, old):  # the echo arrives before or after the canvas reported anything else
        change = apply_canvas(added, store, returned=old, drawn=picture_of(added, store), seen=seen)
        assert new_id in change.spec.node_ids() and change.spec == added, change.notes


def test_a_user_edit_on_a_stale_drawing_changes_only_what_the_user_changed(demo_spec, store):
    """The user deletes `profile` on a canvas that has not yet shown a new step and a rebinding from the panel."""
    old = picture_of(demo_spec, store)
    edited = edits.add_node(demo_spec, store.resolve("fill_missing@1.0.0"))
    edited = edits.bind(edited, store, "evaluate", "test", "split.train")  # rebound in the side panel
    returned = CanvasPicture(
        {k: v for k, v in old.positions.items() if k != "profile"},
        {k: v for k, v in old.edges.items() if v[1] != "profile"},
    )
    change = apply_canvas(edited, store, returned, drawn=picture_of(edited, store), seen=old)
    assert change.notes == ["removed node profile"]
    assert change.spec == edits.remove_node(edited, "profile"), "the new step and the panel's binding are kept"


def test_an_echo_of_an_old_binding_never_rebinds_an_input(demo_spec, store):
    """The issue's flash: an evaluation silently fed the training rows. A stale edge must not come back."""
    before = edits.bind(demo_spec, store, "evaluate", "test", "split.train")
    after = edits.bind(before, store, "evaluate", "test", "split.test")  # the user fixed it in the panel
    stale = picture_of(before, store)
    change = apply_canvas(after, store, returned=stale, drawn=picture_of(after, store), seen=stale)
    assert change.spec.node("evaluate").inputs["test"] == "split.test" and not change.notes


def test_a_deletion_needs_both_pictures_to_have_shown_the_step(demo_spec, store):
    drawn = picture_of(demo_spec, store)
    returned = CanvasPicture({k: v for k, v in drawn.positions.items() if k != "serve"}, drawn.edges)
    assert apply_canvas(demo_spec, store, returned, drawn, seen=None).spec == demo_spec
    assert "serve" not in apply_canvas(demo_spec, store, returned, drawn, seen=drawn).spec.node_ids()


def test_read_form_parses_values_and_names_each_bad_one() -> None:
    params = (
        ParamSpec(name="columns", type="array", required=False, default=[]),
        ParamSpec(name="space", type="object", required=False, default={}),
        ParamSpec(name="label", type="string", required=True),
        ParamSpec(name="size", type="number", required=False, default=0.2, minimum=0.05, maximum=0.95),
    )
    values, problems = read_form(params, {"columns": '["a", "b"]', "space": "{}", "label": "y", "size": 0.3})
    assert values == {"columns": ["a", "b"], "label": "y", "size": 0.3} and not problems, "defaults are left out"
    values, problems = read_form(params, {"columns": "[a, b]", "space": "[1]", "label": " ", "size": "${params.x}"})
    assert values == {"size": "${params.x}"}
    assert problems[0].startswith("columns: not JSON") and 'e.g. ["a", "b"]' in problems[0]
    assert problems[1] == 'space: needs a JSON object, e.g. {"key": 1}'
    assert problems[2] == "label: required, give a value"


def test_only_run_parameters_of_a_fitting_type_are_offered(demo_spec) -> None:
    number = ParamSpec(name="test_size", type="number", required=False, default=0.2)
    assert references_for(number, demo_spec) == ["players", "test_size", "n_trials"]
    text = ParamSpec(name="model_name", type="string", required=True)
    assert references_for(text, demo_spec) == ["model_name"]


@pytest.mark.parametrize("bad", ["", "x" * 3])
def test_blank_and_nonsense_stay_problems(bad) -> None:
    params = (ParamSpec(name="n", type="integer", required=True),)
    _, problems = read_form(params, {"n": bad})
    assert problems and problems[0].startswith("n")


def test_validation_reads_in_the_designers_words(demo_spec, store) -> None:
    from pipelines.validation import validate_workflow
    from studio.forms import for_analysts

    problem = validate_workflow(edits.remove_node(demo_spec, "encode"), store)[0]
    assert for_analysts(str(problem)) == (
        "step 'split' › input table: required Dataset input is not bound; connect a step's output to it: "
        "draw an edge on the canvas, or pick one under Inputs"
    )


def test_the_try_it_form_groups_an_endpoints_inputs_by_kind_in_signature_order() -> None:
    from studio.forms import try_it_groups

    inputs = [
        {"name": "player_id", "datatype": "BYTES", "parameters": {"entity": True, "nullable": False}},
        {"name": "age", "datatype": "INT64"},
        {"name": "country", "datatype": "BYTES", "parameters": {"categories": ["DE", "VN"]}},
        {"name": "spend", "datatype": "FP64", "parameters": {"nullable": True}},
        {"name": "vip", "datatype": "BOOL"},
        {"name": "note", "datatype": "BYTES"},
        {"name": "device", "datatype": "BYTES", "parameters": {"categories": ["pc"]}},
        {"name": "logins", "datatype": "UINT8"},
    ]
    assert [(group, [c["name"] for c in columns]) for group, columns in try_it_groups(inputs)] == [
        ("key", ["player_id"]),
        ("choices", ["country", "device"]),
        ("numbers", ["spend"]),
        ("whole numbers", ["age", "logins"]),
        ("yes / no", ["vip"]),
        ("text", ["note"]),
    ]
    assert try_it_groups([]) == []
