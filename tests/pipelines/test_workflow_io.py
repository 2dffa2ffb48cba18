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
    path.write_text(path.read_text().replace("train_test_split@1.0.0", "train_test_split@9.9.9"))
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
