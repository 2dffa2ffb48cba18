"""Every bad-workflow case, each asserting the message a user reads."""

import pytest

from pipelines.validation import validate_workflow
from pipelines.workflow_io import parse_workflow
from tessera.errors import WorkflowInvalid

GOOD = """
name: demo
params:
  size: {type: number, default: 0.2}
  rows: {type: integer, default: 100}
nodes:
- id: load
  component: sample_dataset@1.0.0
  params: {dataset: player_risk, rows: "${params.rows}"}
- id: split
  component: train_test_split@1.0.0
  params: {label: is_cheater, test_size: "${params.size}"}
  inputs: {table: load.table}
"""


def problems_of(text: str, store) -> list[str]:
    return [str(p) for p in validate_workflow(parse_workflow(text), store)]


def one_problem(text: str, store) -> str:
    found = problems_of(text, store)
    assert len(found) == 1, found
    return found[0]


def test_good_workflow_has_no_problems(store):
    assert problems_of(GOOD, store) == []


def test_unknown_component(store):
    message = one_problem(GOOD.replace("train_test_split@1.0.0", "train_test_splitt@1.0.0"), store)
    assert message.startswith("node 'split' › component: No component 'train_test_splitt'")
    assert "did you mean 'train_test_split'" in message


def test_unknown_version(store):
    message = one_problem(GOOD.replace("train_test_split@1.0.0", "train_test_split@2.0.0"), store)
    assert "has no version '2.0.0'" in message and "published versions: '1.0.0'" in message


def test_unpinned_version(store):
    message = one_problem(GOOD.replace("train_test_split@1.0.0", "train_test_split"), store)
    assert "pin one, e.g. 'train_test_split@1.1.0'" in message


def test_unknown_param(store):
    message = one_problem(GOOD.replace("label: is_cheater", "lable: is_cheater"), store)
    assert message.startswith(
        "node 'split' › params › lable: train_test_split@1.0.0 has no parameter 'lable' (did you mean 'label'?)"
    )


def test_missing_required_param(store):
    text = GOOD + "- id: pick\n  component: select_columns@1.0.0\n  inputs: {table: split.train}\n"
    message = one_problem(text, store)
    assert (
        message
        == "node 'pick' › params › columns: required by select_columns@1.0.0 but not set (the column names to keep, or to drop when drop is true.)"
    )


def test_wrongly_typed_param(store):
    message = one_problem(GOOD.replace("label: is_cheater", "label: is_cheater, stratify: 'yes'"), store)
    assert message == "node 'split' › params › stratify: expected boolean, got str 'yes'"


def test_out_of_range_param(store):
    message = one_problem(GOOD.replace('test_size: "${params.size}"', "test_size: 1.5"), store)
    assert message == "node 'split' › params › test_size: 1.5 is above the maximum 0.95"


def test_choice_not_allowed(store):
    message = one_problem(GOOD.replace("dataset: player_risk", "dataset: player_risks"), store)
    assert "'player_risks' is not one of 'player_risk', 'breast_cancer'" in message
    assert "(did you mean 'player_risk'?)" in message


def test_unknown_run_param_reference(store):
    message = one_problem(GOOD.replace("${params.size}", "${params.sise}"), store)
    assert (
        "refers to run parameter 'sise', which the workflow does not declare (did you mean '${params.size}'?)"
        in message
    )


def test_malformed_reference(store):
    message = one_problem(GOOD.replace("${params.size}", "${param.size}"), store)
    assert "'${param.size}' is not a run parameter reference; write it as '${params.NAME}'" in message


def test_run_param_of_wrong_type(store):
    message = one_problem(
        GOOD.replace("size: {type: number, default: 0.2}", "size: {type: string, default: '0.2'}"), store
    )
    assert message == "node 'split' › params › test_size: run parameter 'size' is string but 'test_size' needs number"


def test_run_param_default_out_of_range(store):
    message = one_problem(GOOD.replace("default: 0.2", "default: 0.99"), store)
    assert "default of run parameter 'size' 0.99 is above the maximum 0.95" in message


def test_binding_to_missing_output_suggests(store):
    text = (
        GOOD
        + "- id: pick\n  component: select_columns@1.0.0\n  params: {columns: [a]}\n  inputs: {table: split.tets}\n"
    )
    message = one_problem(text, store)
    assert message == (
        "node 'pick' › inputs › table: bound to 'split.tets', which does not exist; "
        "outputs of 'split' are: 'test', 'train' (did you mean 'split.test'?)"
    )


def test_binding_to_missing_node(store):
    message = one_problem(GOOD.replace("table: load.table", "table: laod.table"), store)
    assert "bound to 'laod.table', but there is no node 'laod' (did you mean 'load'?)" in message


def test_binding_syntax(store):
    message = one_problem(GOOD.replace("table: load.table", "table: load"), store)
    assert "'load' is not a binding; write it as '<node>.<output>'" in message


def test_unknown_input_name(store):
    message = one_problem(
        GOOD.replace("inputs: {table: load.table}", "inputs: {table: load.table, tabel: load.table}"), store
    )
    assert "has no input 'tabel' (did you mean 'table'?)" in message


def test_artifact_type_mismatch(store):
    text = (
        GOOD + "- id: check\n  component: validate_schema@1.0.0\n  inputs: {table: prof.profile}\n"
        "- id: prof\n  component: profile_table@1.0.0\n  inputs: {table: load.table}\n"
    )
    message = one_problem(text, store)
    assert (
        message
        == "node 'check' › inputs › table: 'prof.profile' is a Markdown but input 'table' of validate_schema@1.0.0 takes a Dataset"
    )


def test_required_input_unbound(store):
    message = one_problem(GOOD.replace("  inputs: {table: load.table}\n", ""), store)
    assert (
        message
        == "node 'split' › inputs › table: required Dataset input is not bound; bind it to an upstream output as '<node>.<output>'"
    )


def test_duplicate_node_ids(store):
    text = GOOD + "- id: load\n  component: sample_dataset@1.0.0\n"
    assert "node 'load': the id is used by more than one node" in problems_of(text, store)[0]


def test_cycle_names_the_loop(store):
    text = """
name: loop
nodes:
- {id: load, component: select_columns@1.0.0, params: {columns: [a]}, inputs: {table: clean.selected}}
- {id: clean, component: select_columns@1.0.0, params: {columns: [a]}, inputs: {table: load.selected}}
"""
    assert one_problem(text, store) == "workflow: the nodes form a cycle: load → clean → load; a workflow must be a DAG"


def test_every_problem_is_reported_in_one_pass(store):
    text = (
        GOOD.replace("label: is_cheater", "lable: is_cheater")
        .replace("table: load.table", "table: laod.table")
        .replace("dataset: player_risk", "dataset: nope")
    )
    found = problems_of(text, store)
    assert len(found) == 3
    with pytest.raises(WorkflowInvalid, match="has 3 problems"):
        from pipelines.workflow_io import check_workflow

        check_workflow(parse_workflow(text), store, "demo.yaml")
