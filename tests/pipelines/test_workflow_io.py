from pathlib import Path

import pytest

from pipelines.spec import Node
from pipelines.workflow_io import load_workflow, parse_workflow, save_workflow
from tessera.errors import WorkflowInvalid


def test_bad_yaml_gives_line_and_column():
    with pytest.raises(WorkflowInvalid) as caught:
        parse_workflow("name: x\nnodes:\n  - id: a\n    component: [unclosed\n", "bad.yaml")
    assert "bad.yaml" in str(caught.value)
    assert "line 5, column 1" in str(caught.value.problems[0])


def test_duplicate_keys_are_refused():
    with pytest.raises(WorkflowInvalid, match="line 2, column 1: key 'name' appears twice"):
        parse_workflow("name: x\nname: y\n")


def test_shape_errors_name_the_node_and_suggest_fields():
    text = "name: x\nnodes:\n- id: load\n  component: sample_dataset@1.0.0\n  retries: many\n  parms: {}\n"
    with pytest.raises(WorkflowInvalid) as caught:
        parse_workflow(text)
    messages = [str(p) for p in caught.value.problems]
    assert any(m.startswith("node 'load' › retries: Input should be a valid integer") for m in messages)
    assert "node 'load' › parms: unknown field (did you mean 'params'?)" in messages


def test_not_a_mapping():
    with pytest.raises(WorkflowInvalid, match="a workflow is a mapping"):
        parse_workflow("- just\n- a list\n")


def test_load_validates_against_the_store(demo_workspace, store):
    path = demo_workspace.find_workflow("cheater_detection")
    spec = load_workflow(path, store)
    assert spec.name == "cheater_detection" and len(spec.nodes) == 11
    path.write_text(path.read_text().replace("train_test_split@1.1.0", "train_test_split@9.9.9"))
    with pytest.raises(WorkflowInvalid, match="has no version '9.9.9'"):
        load_workflow(path, store)


def test_save_refuses_an_invalid_workflow_and_leaves_the_file(demo_workspace, store):
    path = next(demo_workspace.workflow_files())
    before = path.read_text()
    spec = load_workflow(path, store)
    broken = spec.with_node(Node(id="split", component="train_test_split@1.0.0", inputs={"table": "nowhere.table"}))
    with pytest.raises(WorkflowInvalid, match="no node 'nowhere'"):
        save_workflow(broken, path, store)
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [
        "cheater_detection.yaml",
        "cheater_detection_feast.yaml",
        "player_features.yaml",
    ], "no temporary file is left behind"


def test_save_then_load_is_the_same_value(demo_workspace, store, tmp_path):
    spec = load_workflow(next(demo_workspace.workflow_files()), store)
    target = tmp_path / "copy.yaml"
    save_workflow(spec, target, store)
    assert load_workflow(target, store) == spec


COMMENTED = """# Cheater model for the EU shard — owned by risk-team
name: commented
project: risk
params:
  test_size: {type: number, default: 0.2, description: share held out}   # agreed with finance
nodes:
# where the players come from
- id: players
  component: sample_dataset@1.0.0
  params:
    dataset: player_risk
    rows: 500   # small while we iterate
- id: split
  component: train_test_split@1.0.0
  params: {label: is_cheater, test_size: "${params.test_size}"}
  inputs: {table: players.table}
- id: tune
  component: tune_optuna@1.0.0
  params:
    label: is_cheater
    family: hist_gradient_boosting
    drop_columns: [player_id, country]   # 'NO' below is Norway, not false
    n_trials: 5
  inputs:
    train: split.train
"""


def changed_lines(before: str, after: str) -> list[str]:
    import difflib

    return [
        line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]  # fmt: skip


def test_a_studio_edit_changes_only_the_edited_lines_and_keeps_every_comment(tmp_path: Path, store) -> None:
    from pipelines import edits

    path = tmp_path / "commented.yaml"
    path.write_text(COMMENTED)
    spec = parse_workflow(path.read_text())
    save_workflow(edits.set_node_params(spec, "players", {"dataset": "player_risk", "rows": 800}), path, store)
    after = path.read_text()
    assert changed_lines(COMMENTED, after) == [
        "-    rows: 500   # small while we iterate",
        "+    rows: 800   # small while we iterate",
    ]

    spec = parse_workflow(after)
    save_workflow(edits.move_nodes(spec, {"tune": (520.0, 100.0)}), path, store)
    moved = path.read_text()
    assert changed_lines(after, moved) == ["+layout:", "+  tune:", "+    x: 520.0", "+    y: 100.0"]

    spec = parse_workflow(moved)
    save_workflow(edits.remove_node(spec, "tune"), path)
    removed = path.read_text()
    assert all(line.startswith("-") for line in changed_lines(moved, removed)), "removing a node only removes lines"
    for comment in ("# Cheater model for the EU shard", "# agreed with finance", "# where the players come from"):
        assert comment in removed


def test_yaml_1_2_keeps_no_and_yes_as_strings() -> None:
    text = COMMENTED.replace("drop_columns: [player_id, country]", "drop_columns: [player_id, NO, yes, off]")
    spec = parse_workflow(text)
    assert spec.node("tune").params["drop_columns"] == ["player_id", "NO", "yes", "off"]


def test_a_refused_save_leaves_the_file_as_it_was(tmp_path: Path, store) -> None:
    from pipelines import edits

    path = tmp_path / "commented.yaml"
    path.write_text(COMMENTED)
    spec = parse_workflow(COMMENTED)
    broken = edits.set_node_params(spec, "players", {"dataset": "no-such-set"})
    with pytest.raises(WorkflowInvalid, match="dataset"):
        save_workflow(broken, path, store)
    assert path.read_text() == COMMENTED
