import pytest
from pydantic import ValidationError

from pipelines.spec import Node, WorkflowSpec, param_reference
from pipelines.workflow_io import parse_workflow, workflow_to_yaml


def chain(*ids: str, extra: dict[str, str] | None = None) -> WorkflowSpec:
    nodes = [Node(id=ids[0], component="sample_dataset@1.0.0")]
    for previous, current in zip(ids, ids[1:], strict=False):
        nodes.append(Node(id=current, component="select_columns@1.0.0", inputs={"table": f"{previous}.table"}))
    if extra:
        nodes = [
            n.model_copy(update={"inputs": n.inputs | {"other": extra[n.id]}}) if n.id in extra else n for n in nodes
        ]
    return WorkflowSpec(name="chain", nodes=tuple(nodes))


def test_demo_round_trips_through_yaml(demo_workspace):
    path = next(demo_workspace.workflow_files())
    spec = parse_workflow(path.read_text())
    assert parse_workflow(workflow_to_yaml(spec)) == spec
    assert workflow_to_yaml(parse_workflow(workflow_to_yaml(spec))) == workflow_to_yaml(spec)


def test_edges_are_derived_from_bindings():
    spec = chain("a", "b", "c")
    assert list(spec.edges()) == [("a", "table", "b", "table"), ("b", "table", "c", "table")]
    assert spec.topological_order() == ["a", "b", "c"]
    assert spec.downstream("a") == {"b", "c"}


def test_find_cycle_names_the_loop():
    spec = chain("load", "clean", extra={"load": "clean.table"})
    assert spec.find_cycle() == ["load", "clean", "load"]
    with pytest.raises(ValueError, match="cycle: load → clean → load"):
        spec.topological_order()


def test_spec_is_frozen():
    spec = chain("a")
    with pytest.raises(ValidationError):
        spec.name = "other"  # type: ignore[misc]


def test_param_reference():
    assert param_reference("${params.test_size}") == "test_size"
    assert param_reference(" ${params.x} ") == "x"
    assert param_reference("${param.x}") is None
    assert param_reference(0.2) is None


def test_with_node_replaces_or_appends():
    spec = chain("a", "b")
    changed = spec.with_node(
        Node(id="b", component="select_columns@1.0.0", params={"columns": ["x"]}, inputs={"table": "a.table"})
    )
    assert changed.node("b").params == {"columns": ["x"]} and spec.node("b").params == {}
    assert changed.with_node(Node(id="c", component="sample_dataset@1.0.0")).node_ids() == ["a", "b", "c"]
