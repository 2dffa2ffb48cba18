"""Workflow edits (what the designer is made of): each returns a new spec or refuses with a reason."""

from __future__ import annotations

import pytest

from pipelines import edits
from pipelines.edits import EditRefused
from pipelines.validation import validate_workflow


def test_add_node_gives_unique_ids_and_places_it_where_no_step_is(demo_spec, store):
    added = edits.add_node(demo_spec, store.latest("train_test_split"))
    assert added.nodes[-1].id == "train_test_split" and added.nodes[-1].component == "train_test_split@1.1.0"
    again = edits.add_node(added, store.latest("train_test_split"))
    assert again.nodes[-1].id == "train_test_split_2"
    new = again.layout["train_test_split_2"]
    assert all(abs(p.x - new.x) >= 200 or abs(p.y - new.y) >= 100 for k, p in added.layout.items()), "a free place"
    assert demo_spec.nodes[-1].id == "serve", "the original value is untouched"


def test_bind_refuses_a_type_mismatch_an_unknown_input_and_a_cycle(demo_spec, store):
    with pytest.raises(EditRefused, match=r"tune.model is a Model but split.table needs a Dataset"):
        edits.bind(demo_spec, store, "split", "table", "tune.model")
    with pytest.raises(EditRefused, match="has no input 'tabel' \\(did you mean 'table'"):
        edits.bind(demo_spec, store, "split", "tabel", "encode.encoded")
    with pytest.raises(EditRefused, match="would make a cycle"):
        edits.bind(demo_spec, store, "fill", "table", "split.train")
    with pytest.raises(EditRefused, match="no node 'splt' \\(did you mean 'split'"):
        edits.bind(demo_spec, store, "splt", "table", "encode.encoded")


def test_connect_pairs_same_named_artifacts_first_then_the_first_fit(demo_spec, store):
    unbound = edits.unbind(demo_spec, "evaluate", "test")
    connected, made = edits.connect(unbound, store, "split", "evaluate")
    assert made == "test -> test", "an evaluation is never silently fed the training rows"
    assert connected.node("evaluate").inputs["test"] == "split.test"
    loose = edits.unbind(demo_spec, "split", "table")
    connected, made = edits.connect(loose, store, "fill", "split")
    assert made == "filled -> table" and connected.node("split").inputs["table"] == "fill.filled"
    with pytest.raises(EditRefused, match="cannot connect tune to players"):
        edits.connect(demo_spec, store, "tune", "players")


def test_remove_node_drops_its_bindings_and_the_workflow_says_what_is_missing(demo_spec, store):
    removed = edits.remove_node(demo_spec, "encode")
    assert "encode" not in removed.node_ids() and "encode" not in removed.layout
    assert "table" not in removed.node("split").inputs
    problems = validate_workflow(removed, store)
    assert [str(p) for p in problems] == [
        "node 'split' › inputs › table: required Dataset input is not bound; bind it to an upstream output as "
        "'<node>.<output>'"
    ]


def test_resources_params_and_upstream(demo_spec, store):
    sized = edits.set_node_resources(demo_spec, "tune", "4", "8Gi", 1)
    assert sized.node("tune").resources.gpu == 1 and sized.node("tune").resources.memory == "8Gi"
    assert edits.set_node_resources(sized, "tune", "", "", 0).node("tune").resources is None
    with pytest.raises(EditRefused, match="node 'tune' resources: memory"):
        edits.set_node_resources(demo_spec, "tune", "2", "lots", 0)
    assert edits.set_node_params(demo_spec, "split", {"label": "x"}).node("split").params == {"label": "x"}
    assert edits.upstream_workflow(demo_spec, "split").node_ids() == ["players", "validate", "fill", "encode", "split"]


def test_a_generic_artifact_is_not_offered_for_a_dataset_input(demo_spec, store):
    loose = edits.unbind(demo_spec, "split", "table")
    with pytest.raises(EditRefused, match="cannot connect register to split"):
        edits.connect(loose, store, "register", "split")  # `registered` (Artifact) into a table input
    assert edits.artifacts_match("Dataset", "Artifact") and edits.artifacts_match("Dataset", "Dataset")
    assert not edits.artifacts_match("Artifact", "Dataset")


def test_a_step_added_after_the_selected_one_is_connected_only_when_one_output_fits_one_input(demo_spec, store):
    spec = edits.add_node(demo_spec, store.latest("fill_missing"), after="players")
    connected, made = edits.auto_connect(spec, store, "players", spec.nodes[-1].id)
    assert made == "table -> table" and connected.node(spec.nodes[-1].id).inputs == {"table": "players.table"}
    # a split has two Dataset outputs (train, test) for a trainer's one input: ambiguous, left to the user
    spec = edits.add_node(demo_spec, store.latest("train_classifier"), after="split")
    untouched, made = edits.auto_connect(spec, store, "split", spec.nodes[-1].id)
    assert made == "" and untouched == spec
    # nothing fits (a Model into a table step): nothing is bound
    spec = edits.add_node(demo_spec, store.latest("fill_missing"), after="tune")
    assert edits.auto_connect(spec, store, "tune", spec.nodes[-1].id)[1] == ""
