"""Edits of a workflow, as pure functions: each takes a `WorkflowSpec` and returns a new one.

The studio's designer is made of these (the canvas only translates clicks into them), so
every rule an edit enforces holds for any face: an artifact type mismatch, an unknown
input, a duplicate node id are refused with `EditRefused`, and the spec is unchanged.
An edit may leave the workflow incomplete (a required input not yet bound): drafts are
allowed; `validate_workflow` says what is still missing.
"""

from __future__ import annotations

import re
from typing import Any

from component_store.spec import ComponentSpec
from component_store.store import ComponentStore
from pipelines.spec import Binding, Loop, Node, Position, Resources, WorkflowSpec
from tessera.errors import TesseraError
from tessera.suggest import did_you_mean, one_of


class EditRefused(TesseraError):
    """An edit that would make the workflow wrong in a way a user must fix first."""


def artifacts_fit(produced: str, wanted: str) -> bool:
    """Can an output of type `produced` feed an input of type `wanted`? (KFP's rule: `Artifact` fits anything.)"""
    return produced == wanted or "Artifact" in (produced, wanted)


def artifacts_match(produced: str, wanted: str) -> bool:
    """What to offer and what drawing an edge binds: the same type, or anything into an input that takes any
    artifact. A generic output (e.g. register_model's `registered`) is never offered for a Dataset input."""
    return produced == wanted or wanted == "Artifact"


def new_node_id(spec: WorkflowSpec, component_name: str) -> str:
    """A node id from the component's name, unique in `spec` (`split`, `split_2`…)."""
    base = re.sub(r"[^a-z0-9_]", "_", component_name.lower()).strip("_") or "node"
    taken = set(spec.node_ids())
    if base not in taken:
        return base
    return next(f"{base}_{n}" for n in range(2, 10_000) if f"{base}_{n}" not in taken)


def add_node(
    spec: WorkflowSpec, component: ComponentSpec, at: tuple[float, float] | None = None, after: str | None = None
) -> WorkflowSpec:
    """Append a node running `component` with its defaults, at `at`, or else in the first free place right of
    the node `after` (the selected one), or of its layered column (`pipelines.layout`): nothing placed moves."""
    from pipelines.layout import free_place

    node_id = new_node_id(spec, component.name)
    node = Node(id=node_id, component=component.ref)
    added = spec.model_copy(update={"nodes": (*spec.nodes, node)})
    place = Position(x=at[0], y=at[1]) if at is not None else free_place(added, node_id, after)
    return added.model_copy(update={"layout": dict(spec.layout) | {node_id: place}})


def remove_node(spec: WorkflowSpec, node_id: str) -> WorkflowSpec:
    """Drop a node, its layout and every binding that pointed at it."""
    _node(spec, node_id)
    nodes = []
    for node in spec.nodes:
        if node.id == node_id:
            continue
        kept = {name: text for name, text in node.inputs.items() if text.partition(".")[0] != node_id}
        waits = tuple(w for w in node.after if w != node_id)
        changed = kept != node.inputs or waits != node.after
        nodes.append(node.model_copy(update={"inputs": kept, "after": waits}) if changed else node)
    layout = {k: v for k, v in spec.layout.items() if k != node_id}
    keep = set(spec.node_ids()) - {node_id}
    on_exit = None if spec.on_exit == node_id else spec.on_exit
    return spec.model_copy(
        update={"nodes": tuple(nodes), "layout": layout, "loops": _loops_of(spec, keep), "on_exit": on_exit}
    )


def bind(spec: WorkflowSpec, store: ComponentStore, node_id: str, input_name: str, source: str) -> WorkflowSpec:
    """Bind `node_id`'s input to `source` (`<node>.<output>`), checking that the artifact types fit."""
    node = _node(spec, node_id)
    component = store.resolve(node.component)
    wanted = component.input(input_name)
    if wanted is None:
        names = [a.name for a in component.inputs]
        raise EditRefused(
            f"{component.ref} has no input '{input_name}'{did_you_mean(input_name, names)}; inputs: {one_of(names)}"
        )
    binding = Binding.parse(source)
    if binding is None:
        raise EditRefused(f"'{source}' is not '<node>.<output>'")
    upstream = _node(spec, binding.node)
    produced = store.resolve(upstream.component).output(binding.output)
    if produced is None:
        outputs = [a.name for a in store.resolve(upstream.component).outputs]
        raise EditRefused(
            f"node '{binding.node}' has no output '{binding.output}'{did_you_mean(binding.output, outputs)}; "
            f"outputs: {one_of(outputs)}"
        )
    if not artifacts_fit(produced.type, wanted.type):
        raise EditRefused(
            f"{binding} is a {produced.type} but {node_id}.{input_name} needs a {wanted.type}: "
            "connect an output of that type"
        )
    if binding.node == node_id or node_id in _ancestors(spec, binding.node):
        raise EditRefused(f"binding {node_id}.{input_name} to {binding} would make a cycle")
    return _replace(spec, node.model_copy(update={"inputs": dict(node.inputs) | {input_name: str(binding)}}))


def unbind(spec: WorkflowSpec, node_id: str, input_name: str) -> WorkflowSpec:
    node = _node(spec, node_id)
    return _replace(spec, node.model_copy(update={"inputs": {k: v for k, v in node.inputs.items() if k != input_name}}))


def connect(spec: WorkflowSpec, store: ComponentStore, source_node: str, target_node: str) -> tuple[WorkflowSpec, str]:
    """Bind an unbound input of `target_node` to an output of `source_node` that fits it.

    This is what drawing an edge between two nodes means; returns the new spec and the
    binding made (`output -> input`). An output and input of the same name go together first
    (split's `test` into evaluate's `test`, never its `train`); otherwise the first fit in order.
    Refused when no output fits any free input.
    """
    source = store.resolve(_node(spec, source_node).component)
    target_spec = _node(spec, target_node)
    target = store.resolve(target_spec.component)
    free = [wanted for wanted in target.inputs if wanted.name not in target_spec.inputs]
    pairs = [(produced, wanted) for wanted in free for produced in source.outputs]
    for produced, wanted in sorted(pairs, key=lambda pair: pair[0].name != pair[1].name):  # stable: same names first
        if artifacts_match(produced.type, wanted.type):
            edited = bind(spec, store, target_node, wanted.name, f"{source_node}.{produced.name}")
            return edited, f"{produced.name} -> {wanted.name}"
    offered = [f"{a.name} ({a.type})" for a in source.outputs]
    open_inputs = [f"{a.name} ({a.type})" for a in free]
    raise EditRefused(
        f"cannot connect {source_node} to {target_node}: its outputs {one_of(offered) or '(none)'} fit none of "
        f"{target_node}'s free inputs {one_of(open_inputs) or '(none: all bound)'}"
    )


def auto_connect(
    spec: WorkflowSpec, store: ComponentStore, source_node: str, target_node: str
) -> tuple[WorkflowSpec, str]:
    """A step just added after `source_node`: bind it when exactly one output of the source fits exactly one
    free input of the target (the only reading that cannot be wrong); otherwise leave it for the user.
    Returns the spec and the binding made (`output -> input`), or the spec unchanged and ''."""
    source = store.resolve(_node(spec, source_node).component)
    target_spec = _node(spec, target_node)
    target = store.resolve(target_spec.component)
    free = [wanted for wanted in target.inputs if wanted.name not in target_spec.inputs]
    pairs = [(o, i) for o in source.outputs for i in free if artifacts_match(o.type, i.type)]
    if len({o.name for o, _ in pairs}) != 1 or len({i.name for _, i in pairs}) != 1:
        return spec, ""
    produced, wanted = pairs[0]
    return bind(
        spec, store, target_node, wanted.name, f"{source_node}.{produced.name}"
    ), f"{produced.name} -> {wanted.name}"


def set_node_params(spec: WorkflowSpec, node_id: str, params: dict[str, Any]) -> WorkflowSpec:
    """Replace a node's parameter values (leave a parameter out to use the component's default)."""
    node = _node(spec, node_id)
    return _replace(spec, node.model_copy(update={"params": dict(params)}))


def set_node_resources(spec: WorkflowSpec, node_id: str, cpu: str, memory: str, gpu: int) -> WorkflowSpec:
    """CPU, memory and GPU requests of a node (empty strings and 0 mean: no request)."""
    from pydantic import ValidationError

    node = _node(spec, node_id)
    try:
        resources = Resources(cpu=cpu or None, memory=memory or None, gpu=gpu)
    except ValidationError as exc:
        raise EditRefused(
            f"node '{node_id}' resources: " + "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        ) from None
    empty = resources == Resources()
    return _replace(spec, node.model_copy(update={"resources": None if empty else resources}))


def set_node_control(spec: WorkflowSpec, node_id: str, when: str, after: list[str]) -> WorkflowSpec:
    """A node's condition (empty: always runs) and the nodes it waits for; a condition outside the grammar
    or an unknown node is refused, naming it."""
    from pipelines.conditions import ConditionError, parse_condition

    node = _node(spec, node_id)
    condition = when.strip() or None
    if condition:
        try:
            parse_condition(condition)
        except ConditionError as exc:
            raise EditRefused(f"node '{node_id}' › when: {exc}") from None
    others = [i for i in spec.node_ids() if i != node_id]
    for name in after:
        if name not in others:
            raise EditRefused(f"node '{node_id}' › after: no other node '{name}'{did_you_mean(name, others)}")
    return _replace(spec, node.model_copy(update={"when": condition, "after": tuple(after)}))


def set_exit_node(spec: WorkflowSpec, node_id: str, exit_step: bool) -> WorkflowSpec:
    """Make a node the workflow's exit step (`on_exit`: it runs last, whatever happened) or an ordinary one.
    An exit step reads no outputs, waits for nothing and has no condition, and nothing waits for it."""
    node = _node(spec, node_id)
    if not exit_step:
        return spec.model_copy(update={"on_exit": None}) if spec.on_exit == node_id else spec
    if node.inputs or node.after or node.when:
        raise EditRefused(
            f"node '{node_id}' reads outputs, waits or has a condition; an exit step runs after everything, "
            "whatever happened: remove its inputs, waits and condition first"
        )
    waiting = sorted(n.id for n in spec.nodes if node_id in n.upstream())
    if waiting:
        raise EditRefused(f"'{waiting[0]}' waits for '{node_id}', and an exit step runs last")
    return spec.model_copy(update={"on_exit": node_id})


def move_nodes(spec: WorkflowSpec, positions: dict[str, tuple[float, float]]) -> WorkflowSpec:
    """Record canvas positions (unknown ids are ignored)."""
    ids = set(spec.node_ids())
    layout = dict(spec.layout) | {k: Position(x=x, y=y) for k, (x, y) in positions.items() if k in ids}
    return spec if layout == spec.layout else spec.model_copy(update={"layout": layout})


def upstream_workflow(spec: WorkflowSpec, node_id: str) -> WorkflowSpec:
    """The part of `spec` a node needs: the node and its ancestors (for a quick preview run)."""
    keep = _ancestors(spec, node_id) | {node_id}
    nodes = tuple(n for n in spec.nodes if n.id in keep)
    layout = {k: v for k, v in spec.layout.items() if k in keep}
    return spec.model_copy(update={"nodes": nodes, "layout": layout, "loops": _loops_of(spec, keep)})


def set_node_loop(spec: WorkflowSpec, node_id: str, for_each: str | None, parallelism: int = 0) -> WorkflowSpec:
    """Run a node once per item of a list run parameter (`for_each` its name; None: once). It joins the loop
    over that parameter (`per_<name>`, made if needed, whose parallelism this sets) and leaves any other."""
    _node(spec, node_id)
    loops = _loops_of(spec, set(spec.node_ids()) - {node_id})
    if for_each:
        lists = [name for name, param in spec.params.items() if param.type == "array"]
        if for_each not in lists:
            hint = did_you_mean(for_each, lists)
            raise EditRefused(
                f"node '{node_id}' › loop: no list run parameter '{for_each}'{hint}; lists: {one_of(lists)}"
            )
        reference = f"${{params.{for_each}}}"
        loop_id = next((i for i, loop in loops.items() if loop.for_each == reference), f"per_{for_each}")
        joined = loops.get(loop_id)
        members = (*joined.nodes, node_id) if joined else (node_id,)
        loops[loop_id] = Loop(for_each=reference, parallelism=parallelism, nodes=members)
    looped = spec.model_copy(update={"loops": loops})
    from pipelines.loops import loop_problems

    known = {str(p) for p in loop_problems(spec)}
    new = [p for p in loop_problems(looped) if str(p) not in known]
    if new:  # e.g. a step outside the loop reads this one's output
        raise EditRefused(str(new[0]))
    return looped


def _loops_of(spec: WorkflowSpec, keep: set[str]) -> dict[str, Loop]:
    """The spec's loops with only the nodes in `keep`; a loop left with none is dropped."""
    loops = {}
    for loop_id, loop in spec.loops.items():
        members = tuple(n for n in loop.nodes if n in keep)
        if members:
            loops[loop_id] = loop if members == loop.nodes else loop.model_copy(update={"nodes": members})
    return loops


def _ancestors(spec: WorkflowSpec, node_id: str) -> set[str]:
    ids = set(spec.node_ids())
    seen: set[str] = set()
    todo = [node_id]
    while todo:
        for parent in _node(spec, todo.pop()).upstream() & ids:
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def _node(spec: WorkflowSpec, node_id: str) -> Node:
    try:
        return spec.node(node_id)
    except KeyError:
        ids = spec.node_ids()
        raise EditRefused(f"no node '{node_id}'{did_you_mean(node_id, ids)}; nodes: {one_of(ids)}") from None


def _replace(spec: WorkflowSpec, node: Node) -> WorkflowSpec:
    return spec.model_copy(update={"nodes": tuple(node if n.id == node.id else n for n in spec.nodes)})
