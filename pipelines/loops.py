"""Loops: a group of nodes run once per item of a list, as KFP's `dsl.ParallelFor`.

    params:
      regions: {type: array, default: [eu, na, asia]}
    loops:
      per_region:
        for_each: ${params.regions}    # a list run parameter, or a literal list
        parallelism: 2                 # iterations running at once (0: no limit)
        nodes: [region_rows, region_size]
    nodes:
      - id: region_rows
        component: select_rows@1.0.0
        params: {region: '${loop.item}'}
      - id: region_size
        inputs: {table: region_rows.table}   # the same iteration's output
      - id: report
        after: [region_size]                 # waits for every iteration

Locally, each iteration of a loop node is a node instance, `region_size[eu]`, with its own cache key,
log and state (`expand_loops`); on Kubeflow the group compiles to one `dsl.ParallelFor`. A node after
the loop waits for it with `after:`; reading one iteration's output from outside the loop is refused
(KFP would need `dsl.Collected` and a component input that takes a list). Conditions inside a loop and
a loop under a condition are refused too, for now.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pipelines.spec import NODE_ID, Binding, Loop, Node, WorkflowSpec, ordered_by_waits, param_reference
from tessera.errors import Problem
from tessera.suggest import did_you_mean, one_of

LOOP_ITEM = "${loop.item}"
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_INSTANCE = re.compile(r"^(?P<node>[a-z][a-z0-9_-]*)\[(?P<label>[^\]]+)\]$")


def is_loop_item(value: Any) -> bool:
    return isinstance(value, str) and value.strip() == LOOP_ITEM


def loop_of(spec: WorkflowSpec) -> dict[str, str]:
    """Node id -> the id of the loop it belongs to (nodes outside loops are absent)."""
    return {node_id: loop_id for loop_id, loop in spec.loops.items() for node_id in loop.nodes}


def loop_items(loop: Loop, params: dict[str, Any]) -> list[Any]:
    """The items one run iterates over: the literal list, or the run parameter's value."""
    if isinstance(loop.for_each, list):
        return list(loop.for_each)
    reference = param_reference(loop.for_each)
    value = params.get(reference) if reference else None
    return list(value) if isinstance(value, list | tuple) else []


def iteration_labels(items: list[Any]) -> list[str]:
    """How iterations are named in instance ids: the items themselves where they are short, plain and
    unique (`eu`, `3`), else their positions (`0`, `1`…)."""
    labels = [str(item) for item in items]
    plain = all(
        _SAFE_LABEL.match(label) and not isinstance(item, dict | list)
        for label, item in zip(labels, items, strict=True)
    )
    return labels if plain and len(set(labels)) == len(labels) else [str(i) for i in range(len(items))]


def instance_id(node_id: str, label: str) -> str:
    return f"{node_id}[{label}]"


def node_of_instance(node_id: str) -> str:
    """`train[eu]` -> `train`; a plain node id is its own."""
    match = _INSTANCE.match(node_id)
    return match.group("node") if match else node_id


@dataclass(frozen=True)
class Expansion:
    """A workflow with every loop unrolled for one run's parameters: a plain DAG of node instances."""

    spec: WorkflowSpec
    loop_of_instance: dict[str, str]  # instance id -> loop id


def expand_loops(spec: WorkflowSpec, params: dict[str, Any]) -> Expansion:
    """Unroll the loops of a valid workflow for these run parameter values.

    An instance reads `${loop.item}` as its item, reads outputs of the same iteration, and a node that
    waits (`after`) for a loop node waits for all of its instances."""
    if not spec.loops:
        return Expansion(spec, {})
    member = loop_of(spec)
    labelled = {
        loop_id: list(zip(iteration_labels(items := loop_items(loop, params)), items, strict=True))
        for loop_id, loop in spec.loops.items()
    }

    def instances(node_id: str) -> list[str]:
        loop_id = member.get(node_id)
        return [instance_id(node_id, label) for label, _ in labelled[loop_id]] if loop_id else [node_id]

    nodes: list[Node] = []
    loop_of_instance: dict[str, str] = {}
    for node in spec.nodes:
        loop_id = member.get(node.id)
        if loop_id is None:
            waits = tuple(w for waited in node.after for w in instances(waited))
            nodes.append(node.model_copy(update={"after": waits}))
            continue
        for label, item in labelled[loop_id]:

            def same_iteration(node_id: str, label: str = label, loop_id: str = loop_id) -> list[str]:
                return [instance_id(node_id, label)] if member.get(node_id) == loop_id else instances(node_id)

            inputs = {}
            for name, text in node.inputs.items():
                binding = Binding.parse(text)
                assert binding is not None  # validated
                inputs[name] = f"{same_iteration(binding.node)[0]}.{binding.output}"
            params_now = {key: item if is_loop_item(value) else value for key, value in node.params.items()}
            waits = tuple(w for waited in node.after for w in same_iteration(waited))
            copy = node.model_copy(
                update={"id": instance_id(node.id, label), "params": params_now, "inputs": inputs, "after": waits}
            )
            nodes.append(copy)
            loop_of_instance[copy.id] = loop_id
    expanded = spec.model_copy(update={"nodes": tuple(nodes), "loops": {}, "layout": {}})
    return Expansion(expanded, loop_of_instance)


def unit_order(spec: WorkflowSpec) -> list[str]:
    """Loops and nodes outside loops in an order where each comes after everything it waits for (a
    loop counts as one unit: what the compiler builds in one `dsl.ParallelFor`), stable by file order.

    Raises:
        ValueError: a node outside a loop both waits for the loop and feeds it.
    """
    member = loop_of(spec)
    ids = set(spec.node_ids())
    units: dict[str, set[str]] = {}
    for node in spec.nodes:
        unit = member.get(node.id, node.id)
        waits = {member.get(u, u) for u in node.upstream() & ids}
        units.setdefault(unit, set()).update(waits - {unit})
    order = ordered_by_waits(units)
    if order is None:
        raise ValueError(f"these wait for each other through a loop: {', '.join(sorted(units))}")
    return order


def loop_problems(spec: WorkflowSpec) -> list[Problem]:
    """What is wrong with the workflow's loops, every problem at once (validation calls this)."""
    problems: list[Problem] = []
    ids = spec.node_ids()
    seen: dict[str, str] = {}
    for loop_id, loop in spec.loops.items():
        where = f"loops › {loop_id}"
        if not re.match(NODE_ID, loop_id):
            problems.append(
                Problem(where, "a loop id is lowercase letters, digits, '_' and '-', starting with a letter")
            )
        problems += _for_each_problems(spec, loop, where)
        if not loop.nodes:
            problems.append(Problem(f"{where} › nodes", "names no node; list the nodes to run once per item"))
        for node_id in loop.nodes:
            if node_id not in ids:
                problems.append(
                    Problem(
                        f"{where} › nodes", f"no node '{node_id}'{did_you_mean(node_id, ids)}; nodes: {one_of(ids)}"
                    )
                )
            elif node_id in seen:
                problems.append(Problem(f"{where} › nodes", f"'{node_id}' is already in loop '{seen[node_id]}'"))
            elif node_id == spec.on_exit:
                problems.append(Problem(f"{where} › nodes", f"'{node_id}' is the exit node; it runs once, after all"))
            seen.setdefault(node_id, loop_id)
    member = loop_of(spec)
    for node in spec.nodes:
        problems += _reading_problems(spec, node, member)
    if not problems and spec.loops and spec.find_cycle() is None:
        problems += _condition_problems(spec, member)
        try:
            unit_order(spec)
        except ValueError as exc:
            problems.append(Problem("loops", f"{exc}; a node after a loop cannot also feed it"))
    return problems


def _for_each_problems(spec: WorkflowSpec, loop: Loop, where: str) -> list[Problem]:
    if isinstance(loop.for_each, list):
        bad = [item for item in loop.for_each if isinstance(item, dict | list) or item is None]
        if bad:
            return [Problem(f"{where} › for_each", f"items are strings, numbers or booleans; got {str(bad[0])[:40]}")]
        return []
    reference = param_reference(loop.for_each)
    if reference is None:
        return [
            Problem(
                f"{where} › for_each",
                f"'{loop.for_each[:60]}' is neither a list nor a run parameter; write '${{params.NAME}}' or [a, b]",
            )
        ]
    param = spec.params.get(reference)
    if param is None:
        hint = did_you_mean(reference, spec.params, template="'${{params.{}}}'")
        return [
            Problem(f"{where} › for_each", f"no run parameter '{reference}'{hint}; declared: {one_of(spec.params)}")
        ]
    if param.type != "array":
        return [Problem(f"{where} › for_each", f"run parameter '{reference}' is {param.type}; a loop needs an array")]
    return []


def _reading_problems(spec: WorkflowSpec, node: Node, member: dict[str, str]) -> list[Problem]:
    """Outputs of a loop node are per item: only nodes of the same loop read them."""
    problems = []
    mine = member.get(node.id)
    read = [(f"inputs › {name}", b.node, str(b)) for name, b in node.bindings().items() if b is not None]
    read += [("when", source, source) for source in node.condition_upstream()]
    for field, source, text in read:
        theirs = member.get(source)
        if theirs is None or theirs == mine:
            continue
        problems.append(
            Problem(
                f"node '{node.id}' › {field}",
                f"reads '{text}', which loop '{theirs}' makes once per item; "
                + (
                    f"wait for the loop with after: [{source}] instead (collecting a loop's outputs into a list "
                    "is not supported yet)"
                    if mine is None
                    else f"'{node.id}' is in loop '{mine}', so it cannot read another loop's outputs"
                ),
            )
        )
    if mine is None and any(is_loop_item(v) for v in node.params.values()):
        problems.append(
            Problem(f"node '{node.id}' › params", f"{LOOP_ITEM} is a loop's item, and '{node.id}' is in no loop")
        )
    return problems


def _condition_problems(spec: WorkflowSpec, member: dict[str, str]) -> list[Problem]:
    """Kubeflow would need a `dsl.If` inside or around the `dsl.ParallelFor`: not built yet."""
    conditioned: dict[str, bool] = {}
    for node_id in spec.topological_order():
        node = spec.node(node_id)
        conditioned[node_id] = bool(node.when) or any(conditioned.get(u, False) for u in node.upstream())
    return [
        Problem(
            f"node '{node_id}' › when",
            f"runs in loop '{member[node_id]}' under a condition; conditions inside or around a loop are not "
            "supported yet",
        )
        for node_id in member
        if conditioned.get(node_id)
    ]


def rolled_up(states: dict[str, str]) -> dict[str, str]:
    """Node states with a loop node's instances folded into one (what a canvas card shows)."""
    grouped: dict[str, list[str]] = {}
    for node_id, state in states.items():
        grouped.setdefault(node_of_instance(node_id), []).append(state)
    return {node_id: iterations_state(found) for node_id, found in grouped.items()}


_STATE_PRECEDENCE = ("running", "failed", "cancelled", "pending", "skipped", "succeeded", "cached", "not_run")


def iterations_state(states: list[str]) -> str:
    """One state for a node's iterations: running while any runs, failed if any failed, done when all are
    (succeeded if any ran, cached if all came from the cache)."""
    return next((s for s in _STATE_PRECEDENCE if s in states), states[0])
