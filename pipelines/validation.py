"""Check a workflow's meaning against the component store, collecting every problem at once.

Each problem names the node and field and, where one exists, what was probably meant:

    node 'train' › inputs › data: bound to 'split.tets', which does not exist;
    outputs of 'split' are: 'test', 'train' (did you mean 'split.test'?)
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from component_store.spec import ArtifactSpec, ComponentSpec, ParamSpec
from component_store.store import ComponentStore, PublishedVersion
from pipelines.edits import artifacts_fit
from pipelines.loops import is_loop_item, loop_items, loop_of, loop_problems
from pipelines.spec import Node, WorkflowSpec, param_reference
from tessera.errors import ComponentNotFound, Problem, TesseraError
from tessera.suggest import did_you_mean, one_of

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}
# A run parameter of the first type may feed a component parameter of the second.
_COMPATIBLE = {("integer", "number")}


def value_matches(value: Any, param_type: str) -> bool:
    """Whether a literal YAML value is of a JSON-schema type (`True` is no integer)."""
    if isinstance(value, bool) and param_type != "boolean":
        return False
    return isinstance(value, _PYTHON_TYPES[param_type])


def validate_workflow(spec: WorkflowSpec, store: ComponentStore) -> list[Problem]:
    """Every problem of `spec`, in file order; an empty list means it is valid."""
    problems: list[Problem] = []
    problems += _workflow_param_problems(spec)
    duplicates = [node_id for node_id, count in Counter(spec.node_ids()).items() if count > 1]
    for node_id in duplicates:
        problems.append(Problem(f"node '{node_id}'", "the id is used by more than one node; node ids must be unique"))
    resolved: dict[str, ComponentSpec] = {}
    for node in spec.nodes:
        try:
            resolved[node.id] = store.resolve(node.component)
        except ComponentNotFound as exc:
            problems.append(Problem(f"node '{node.id}' › component", str(exc)))
    for node in spec.nodes:
        component = resolved.get(node.id)
        if component is not None:
            problems += _param_problems(spec, node, component)
        problems += _input_problems(spec, node, component, resolved)
        problems += _control_problems(spec, node, resolved)
        if component is not None and component.final_status and node.id != spec.on_exit:
            problems.append(
                Problem(
                    f"node '{node.id}'",
                    f"{component.ref} is told how the run ended, so it runs last: make it the exit node "
                    f"(on_exit: {node.id})",
                )
            )
    problems += _exit_problems(spec)
    outputs = {
        node_id: {p.name: str(p.type) for p in component.param_outputs} for node_id, component in resolved.items()
    }
    many = {node_id: {a.name for a in component.inputs if a.many} for node_id, component in resolved.items()}
    problems += loop_problems(spec, outputs, many)
    cycle = spec.find_cycle()
    if cycle:
        problems.append(Problem("workflow", f"the nodes form a cycle: {' → '.join(cycle)}; a workflow must be a DAG"))
    for node_id in spec.layout:
        if node_id not in spec.node_ids():
            problems.append(
                Problem(
                    f"layout › {node_id}",
                    f"position for a node that does not exist{did_you_mean(node_id, spec.node_ids())}; remove it",
                )
            )
    return problems


def _exit_problems(spec: WorkflowSpec) -> list[Problem]:
    """The exit node exists, waits for nothing (it runs after everything, whatever happened) and nothing waits for it."""
    if spec.on_exit is None:
        return []
    ids = spec.node_ids()
    if spec.on_exit not in ids:
        return [Problem("on_exit", f"no node '{spec.on_exit}'{did_you_mean(spec.on_exit, ids)}")]
    node = spec.node(spec.on_exit)
    problems = []
    if node.upstream() or node.when:
        problems.append(
            Problem(
                "on_exit",
                f"'{node.id}' runs after everything, whatever happened: it cannot read outputs, wait or have a condition",
            )
        )
    waiting = sorted(n.id for n in spec.nodes if node.id in n.upstream())
    if waiting:
        problems.append(Problem("on_exit", f"'{node.id}' runs last, so '{waiting[0]}' cannot wait for it"))
    return problems


def _control_problems(spec: WorkflowSpec, node: Node, resolved: dict[str, ComponentSpec]) -> list[Problem]:
    """`after` names other nodes; `when` parses and reads run parameters and upstream parameter outputs."""
    from pipelines.conditions import ConditionError, references

    problems = []
    others = [i for i in spec.node_ids() if i != node.id]
    for name in node.after:
        if name not in others:
            what = "itself" if name == node.id else f"'{name}', which is not a node{did_you_mean(name, others)}"
            problems.append(Problem(f"node '{node.id}' › after", f"waits for {what}"))
    if node.when is None:
        return problems
    where = f"node '{node.id}' › when"
    try:
        read = references(node.when)
    except ConditionError as exc:
        return [*problems, Problem(where, str(exc))]
    for reference in read:
        if reference.source == "params":
            if reference.name not in spec.params:
                hint = did_you_mean(reference.name, spec.params, template="'params.{}'")
                problems.append(Problem(where, f"no run parameter '{reference.name}'{hint}"))
            continue
        if reference.source not in others:
            hint = did_you_mean(reference.source, others)
            problems.append(
                Problem(where, f"'{reference}' reads node '{reference.source}', which does not exist{hint}")
            )
            continue
        source = resolved.get(reference.source)
        if source is None or source.param_output(reference.name) is not None:
            continue
        outputs = [p.name for p in source.param_outputs]
        if source.output(reference.name) is not None:
            problems.append(
                Problem(
                    where,
                    f"'{reference}' is an artifact ({source.output(reference.name).type}); conditions read "  # type: ignore[union-attr]
                    f"parameter outputs: {one_of(outputs) if outputs else f'{source.ref} has none'}",
                )
            )
        else:
            known = f"its parameter outputs: {one_of(outputs)}" if outputs else f"{source.ref} has no parameter outputs"
            problems.append(
                Problem(
                    where,
                    f"'{reference}': no output '{reference.name}'{did_you_mean(reference.name, outputs)}; {known}",
                )
            )
    return problems


def _workflow_param_problems(spec: WorkflowSpec) -> list[Problem]:
    problems = []
    for name, param in spec.params.items():
        if param.default is not None and not value_matches(param.default, param.type):
            problems.append(Problem(f"params › {name}", f"default {param.default!r} is not of type {param.type}"))
    return problems


def _param_problems(spec: WorkflowSpec, node: Node, component: ComponentSpec) -> list[Problem]:
    problems = []
    where = f"node '{node.id}' › params"
    known = [p.name for p in component.params]
    for name, value in node.params.items():
        param = component.param(name)
        if param is None:
            problems.append(
                Problem(
                    f"{where} › {name}",
                    f"{component.ref} has no parameter '{name}'{did_you_mean(name, known)}; "
                    f"its parameters are: {one_of(known)}",
                )
            )
            continue
        checked = _loop_item_problems(spec, node, param) if is_loop_item(value) else _value_problems(spec, value, param)
        problems += [Problem(f"{where} › {name}", m) for m in checked]
    for param in component.params:
        if param.required and param.name not in node.params:
            problems.append(
                Problem(
                    f"{where} › {param.name}",
                    f"required by {component.ref} but not set"
                    + (f" ({param.description})" if param.description else ""),
                )
            )
    return problems


def _value_problems(spec: WorkflowSpec, value: Any, param: ParamSpec) -> list[str]:
    reference = param_reference(value)
    if reference is not None:
        run_param = spec.params.get(reference)
        if run_param is None:
            hint = did_you_mean(reference, spec.params, template="'${{params.{}}}'")
            return [
                f"refers to run parameter '{reference}', which the workflow does not declare{hint}; "
                f"declared: {one_of(spec.params)}"
            ]
        if run_param.type != param.type and (run_param.type, param.type) not in _COMPATIBLE:
            return [f"run parameter '{reference}' is {run_param.type} but '{param.name}' needs {param.type}"]
        if run_param.default is not None:
            return _range_problems(run_param.default, param, prefix=f"default of run parameter '{reference}' ")
        return []
    if isinstance(value, str) and "${" in value:
        return [f"'{value}' is not a run parameter reference; write it as '${{params.NAME}}'"]
    if not value_matches(value, param.type):
        return [f"expected {param.type}, got {type(value).__name__} {value!r}"]
    return _range_problems(value, param)


def _loop_item_problems(spec: WorkflowSpec, node: Node, param: ParamSpec) -> list[str]:
    """Each item the node's loop would give `param` (the literal list, or the run parameter's default)."""
    loop_id = loop_of(spec).get(node.id)
    if loop_id is None:
        return []  # loop_problems says so
    loop = spec.loops[loop_id]
    defaults = {name: p.default for name, p in spec.params.items()}
    try:
        items = loop_items(loop, defaults) or []  # a loop over an upstream output: items unknown until it runs
    except TesseraError:
        return []  # not a list: loop_problems says so
    for item in items:
        if not value_matches(item, param.type):
            return [f"loop '{loop_id}' has item {item!r}, but '{param.name}' takes {param.type}"]
        if found := _range_problems(item, param, prefix=f"loop '{loop_id}' item "):
            return found
    return []


def _range_problems(value: Any, param: ParamSpec, prefix: str = "") -> list[str]:
    if param.choices is not None and value not in param.choices:
        hint = did_you_mean(str(value), [str(c) for c in param.choices])
        return [f"{prefix}{value!r} is not one of {', '.join(repr(c) for c in param.choices)}{hint}"]
    if isinstance(value, int | float) and not isinstance(value, bool):
        if param.minimum is not None and value < param.minimum:
            return [f"{prefix}{value!r} is below the minimum {param.minimum:g}"]
        if param.maximum is not None and value > param.maximum:
            return [f"{prefix}{value!r} is above the maximum {param.maximum:g}"]
    return []


def _input_problems(
    spec: WorkflowSpec, node: Node, component: ComponentSpec | None, resolved: dict[str, ComponentSpec]
) -> list[Problem]:
    problems = []
    where = f"node '{node.id}' › inputs"
    ids = spec.node_ids()
    input_names = [a.name for a in component.inputs] if component else []
    for input_name, binding in node.bindings().items():
        text = node.inputs[input_name]
        target: ArtifactSpec | None = component.input(input_name) if component else None
        if component is not None and target is None:
            problems.append(
                Problem(
                    f"{where} › {input_name}",
                    f"{component.ref} has no input '{input_name}'"
                    f"{did_you_mean(input_name, input_names)}; its inputs are: {one_of(input_names)}",
                )
            )
            continue
        if binding is None:
            problems.append(
                Problem(f"{where} › {input_name}", f"'{text}' is not a binding; write it as '<node>.<output>'")
            )
            continue
        if binding.node == node.id:
            problems.append(Problem(f"{where} › {input_name}", f"binds to its own output '{text}'"))
            continue
        if binding.node not in ids:
            problems.append(
                Problem(
                    f"{where} › {input_name}",
                    f"bound to '{text}', but there is no node '{binding.node}'"
                    f"{did_you_mean(binding.node, [i for i in ids if i != node.id])}",
                )
            )
            continue
        source = resolved.get(binding.node)
        if source is None:
            continue
        produced = source.output(binding.output)
        if produced is None:
            outputs = [o.name for o in source.outputs]
            suggestion = did_you_mean(binding.output, outputs, template=f"'{binding.node}.{{}}'")
            problems.append(
                Problem(
                    f"{where} › {input_name}",
                    f"bound to '{text}', which does not exist; outputs of "
                    f"'{binding.node}' are: {one_of(outputs)}{suggestion}",
                )
            )
            continue
        if target is not None and not artifacts_fit(produced.type, target.type):
            problems.append(
                Problem(
                    f"{where} › {input_name}",
                    f"'{text}' is a {produced.type} but input '{input_name}' of "
                    f"{component.ref if component else node.component} takes a {target.type}",
                )
            )
    if component is not None:
        for artifact in component.inputs:
            if artifact.name not in node.inputs:
                problems.append(
                    Problem(
                        f"{where} › {artifact.name}",
                        f"required {artifact.type} input is not bound; "
                        "bind it to an upstream output as '<node>.<output>'",
                    )
                )
    return problems


def pinned_versions(spec: WorkflowSpec, store: ComponentStore) -> Iterator[tuple[Node, PublishedVersion]]:
    """Each node with the published version it pins (nodes pinning nothing that exists are left to
    `validate_workflow`, which reports them)."""
    for node in spec.nodes:
        try:
            yield node, store.resolve_info(node.component)
        except ComponentNotFound:
            continue


def review_warnings(spec: WorkflowSpec, store: ComponentStore) -> list[Problem]:
    """Pins of versions that are not approved: in review (fine to try locally) or deprecated (with the
    replacement). A ComponentStore without review (a plain folder) has none."""
    warnings = []
    for node, info in pinned_versions(spec, store):
        where = f"node '{node.id}' › component"
        if info.status == "review":
            warnings.append(
                Problem(
                    where,
                    f"{info.spec.ref} is in review, not approved yet: fine to try locally; Kubeflow runs and "
                    f"schedules refuse it until one of the {info.store} store's approvers runs "
                    f"`tessera components approve {info.spec.ref}`",
                )
            )
        elif info.status == "deprecated":
            warnings.append(Problem(where, f"{info.spec.ref} is deprecated ({info.reason}): use {info.replacement}"))
    return warnings


def check_approved(spec: WorkflowSpec, store: ComponentStore, allow_unapproved: bool, where: str) -> None:
    """Refuse a workflow pinning versions in review for `where` (a Kubeflow run, a schedule) unless allowed."""
    if allow_unapproved:
        return
    unapproved = [w for w in review_warnings(spec, store) if "is in review" in w.message]
    if unapproved:
        from tessera.errors import WorkflowInvalid

        hint = Problem("workflow", f"{where} takes approved versions only (or allow_unapproved: true in tessera.yaml)")
        raise WorkflowInvalid(f"'{spec.name}'", [*unapproved, hint])
