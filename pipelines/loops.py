"""Loops: a group of nodes run once per item of a list, as KFP's `dsl.ParallelFor`.

    params:
      regions: {type: array, default: [eu, na, asia]}
    loops:
      per_region:
        for_each: ${params.regions}    # a list run parameter, a literal list, or NODE.OUTPUT (a list output)
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
log and state (`expand_loops`); a loop over an upstream output unrolls when that node is done. On
Kubeflow the group compiles to one `dsl.ParallelFor`. A node after
the loop waits for it with `after:`, or reads every iteration's output through an input that takes a
list (`Input[List[Dataset]]`: `dsl.Collected` on Kubeflow); reading one iteration's output from outside
the loop is refused. A condition on a loop's step reads its own iteration's outputs; a loop runs as one
unit (`loop_waits`), so under a condition it runs whole or not at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pipelines.spec import NODE_ID, Binding, Loop, Node, WorkflowSpec, ordered_by_waits, param_reference
from tessera.errors import Problem, TesseraError
from tessera.suggest import did_you_mean, one_of

LOOP_ITEM = "${loop.item}"
_SAFE_LABEL = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
_INSTANCE = re.compile(r"^(?P<node>[a-z][a-z0-9_-]*)\[(?P<label>[^\]]+)\]$")


def is_loop_item(value: Any) -> bool:
    return isinstance(value, str) and value.strip() == LOOP_ITEM


def loop_of(spec: WorkflowSpec) -> dict[str, str]:
    """Node id -> the id of the loop it belongs to (nodes outside loops are absent)."""
    return {node_id: loop_id for loop_id, loop in spec.loops.items() for node_id in loop.nodes}


def loop_waits(spec: WorkflowSpec) -> dict[str, set[str]]:
    """Loop id -> the nodes outside it that any of its steps waits for (and the node whose output it runs
    over). A loop runs as one unit, as KFP's `dsl.ParallelFor` does: every step of every iteration waits
    for all of them, so a loop under a condition runs as a whole or not at all."""
    member = loop_of(spec)
    ids = set(spec.node_ids())
    waits: dict[str, set[str]] = {loop_id: set() for loop_id in spec.loops}
    for node in spec.nodes:
        loop_id = member.get(node.id)
        if loop_id is not None:
            waits[loop_id] |= {u for u in node.upstream() & ids if member.get(u) != loop_id}
    for loop_id, loop in spec.loops.items():
        source = loop_source(loop)
        if source is not None and source.node in ids:
            waits[loop_id].add(source.node)
    return waits


def loop_source(loop: Loop) -> Binding | None:
    """The upstream parameter output a loop runs over (`for_each: regions.names`), or None."""
    if not isinstance(loop.for_each, str) or param_reference(loop.for_each) is not None:
        return None
    return Binding.parse(loop.for_each.strip())


def loop_items(
    loop: Loop, params: dict[str, Any], outputs: dict[str, dict[str, Any]] | None = None
) -> list[Any] | None:
    """The items one run iterates over: the literal list, the run parameter's value, or the upstream
    output's value (None while that node has not run)."""
    if isinstance(loop.for_each, list):
        return list(loop.for_each)
    source = loop_source(loop)
    if source is not None:
        produced = (outputs or {}).get(source.node, {}).get(source.output)
        if produced is None:
            return None
        value = produced.get("value")
    else:
        reference = param_reference(loop.for_each)
        value = params.get(reference) if reference else None
    if value is None:  # a parameter with no value: validation and the run's parameter check say so
        return []
    if not isinstance(value, list | tuple):
        raise TesseraError(
            f"a loop iterates over {loop.for_each}, which is {type(value).__name__} "
            f"{str(value)[:40]!r}, not a list; give it a list (e.g. [eu, na])"
        )
    return list(value)


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


def iteration_label(node_id: str) -> str | None:
    """`train[eu]` -> `eu`; None for a plain node id."""
    match = _INSTANCE.match(node_id)
    return match.group("label") if match else None


def node_of_instance(node_id: str) -> str:
    """`train[eu]` -> `train`; a plain node id is its own."""
    match = _INSTANCE.match(node_id)
    return match.group("node") if match else node_id


@dataclass(frozen=True)
class Expansion:
    """A workflow with its loops unrolled for one run: a plain DAG of node instances. A loop over an
    upstream output not produced yet keeps its nodes as they are, waiting for that node (`waiting`)."""

    spec: WorkflowSpec
    loop_of_instance: dict[str, str]  # instance id -> loop id
    waiting: frozenset[str] = frozenset()  # nodes whose output a loop still waits for
    # node -> list input -> '<instance>.<output>' of every iteration, in order (dsl.Collected); such an
    # input is left out of the node's `inputs` and its instances are in its `after`
    collected: dict[str, dict[str, list[str]]] = field(default_factory=dict)


def expand_loops(
    spec: WorkflowSpec, params: dict[str, Any], outputs: dict[str, dict[str, Any]] | None = None
) -> Expansion:
    """Unroll the loops of a valid workflow for these run parameter values (and, for loops over an
    upstream output, the outputs of nodes done so far: `{node: {output: {"value": [...]}}}`).

    An instance reads `${loop.item}` as its item, reads outputs of the same iteration, and a node that
    waits (`after`) for a loop node waits for all of its instances."""
    if not spec.loops:
        return Expansion(spec, {})
    member = loop_of(spec)
    items_of = {loop_id: loop_items(loop, params, outputs) for loop_id, loop in spec.loops.items()}
    labelled = {
        loop_id: list(zip(iteration_labels(items), items, strict=True))
        for loop_id, items in items_of.items()
        if items is not None
    }
    sources = {loop_id: loop_source(loop) for loop_id, loop in spec.loops.items()}
    unit_waits = loop_waits(spec)

    def instances(node_id: str) -> list[str]:
        loop_id = member.get(node_id)
        if loop_id is None or loop_id not in labelled:  # outside loops, or its loop not unrolled yet
            return [node_id]
        return [instance_id(node_id, label) for label, _ in labelled[loop_id]]

    nodes: list[Node] = []
    loop_of_instance: dict[str, str] = {}
    collected: dict[str, dict[str, list[str]]] = {}
    for node in spec.nodes:
        loop_id = member.get(node.id)
        from_source = tuple(sorted(unit_waits[loop_id])) if loop_id else ()  # the loop waits as one unit
        if loop_id is None or loop_id not in labelled:
            kept, gathered = _collect(node, member, labelled, instances)
            if gathered:
                collected[node.id] = gathered
            reads = [w for texts in gathered.values() for text in texts for w in [text.partition(".")[0]]]
            waits = tuple(
                dict.fromkeys([w for waited in (*node.after, *from_source) for w in instances(waited)] + reads)
            )
            nodes.append(node.model_copy(update={"after": waits, "inputs": kept}))
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
            # a condition reads the same iteration's outputs: those instances come first (`upstream()` still
            # names the condition's base nodes; the runner keeps to the ids it runs)
            read = sorted(node.condition_upstream())
            waits = tuple(
                dict.fromkeys(w for waited in (*node.after, *from_source, *read) for w in same_iteration(waited))
            )
            copy = node.model_copy(
                update={"id": instance_id(node.id, label), "params": params_now, "inputs": inputs, "after": waits}
            )
            nodes.append(copy)
            loop_of_instance[copy.id] = loop_id
    expanded = spec.model_copy(update={"nodes": tuple(nodes), "loops": {}, "layout": {}})
    waiting = frozenset(source.node for loop_id, source in sources.items() if source and loop_id not in labelled)
    return Expansion(expanded, loop_of_instance, waiting, collected)


def _collect(
    node: Node, member: dict[str, str], labelled: dict[str, Any], instances: Any
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """A node outside loops: its inputs bound to an unrolled loop's node become lists of every iteration's
    output (validation lets only list inputs bind so); the others stay as they are."""
    kept: dict[str, str] = {}
    gathered: dict[str, list[str]] = {}
    for name, text in node.inputs.items():
        binding = Binding.parse(text)
        if binding is not None and member.get(binding.node) in labelled and member.get(node.id) is None:
            gathered[name] = [f"{i}.{binding.output}" for i in instances(binding.node)]
        else:
            kept[name] = text
    return kept, gathered


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
    for loop_id, loop in spec.loops.items():
        source = loop_source(loop)
        if source is not None and source.node in ids and loop_id in units:
            units[loop_id].add(member.get(source.node, source.node))
    order = ordered_by_waits(units)
    if order is None:
        raise ValueError(f"these wait for each other through a loop: {', '.join(sorted(units))}")
    return order


def loop_problems(
    spec: WorkflowSpec,
    param_outputs: dict[str, dict[str, str]] | None = None,
    list_inputs: dict[str, set[str]] | None = None,
) -> list[Problem]:
    """What is wrong with the workflow's loops, every problem at once. Validation calls this with what the
    components say: each node's parameter outputs and their types (for loops over an upstream output),
    and its inputs that take a list (to collect a loop's outputs)."""
    problems: list[Problem] = []
    ids = spec.node_ids()
    seen: dict[str, str] = {}
    for loop_id, loop in spec.loops.items():
        where = f"loops › {loop_id}"
        if not re.match(NODE_ID, loop_id):
            problems.append(
                Problem(where, "a loop id is lowercase letters, digits, '_' and '-', starting with a letter")
            )
        problems += _for_each_problems(spec, loop, where, param_outputs)
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
        problems += _reading_problems(spec, node, member, list_inputs or {})
    if not problems and spec.loops and spec.find_cycle() is None:
        problems += _condition_problems(spec, member)
        try:
            unit_order(spec)
        except ValueError as exc:
            problems.append(Problem("loops", f"{exc}; a node after a loop cannot also feed it"))
    return problems


def _for_each_problems(
    spec: WorkflowSpec, loop: Loop, where: str, param_outputs: dict[str, dict[str, str]] | None
) -> list[Problem]:
    if isinstance(loop.for_each, list):
        bad = [item for item in loop.for_each if isinstance(item, dict | list) or item is None]
        if bad:
            return [Problem(f"{where} › for_each", f"items are strings, numbers or booleans; got {str(bad[0])[:40]}")]
        return []
    source = loop_source(loop)
    if source is not None:
        return _source_problems(spec, loop, source, f"{where} › for_each", param_outputs)
    reference = param_reference(loop.for_each)
    if reference is None:
        return [
            Problem(
                f"{where} › for_each",
                f"'{loop.for_each[:60]}' is neither a list, a run parameter nor an upstream output; write "
                "'${params.NAME}', NODE.OUTPUT or [a, b]",
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


def _source_problems(
    spec: WorkflowSpec, loop: Loop, source: Binding, where: str, param_outputs: dict[str, dict[str, str]] | None
) -> list[Problem]:
    """A loop over `NODE.OUTPUT`: a node outside every loop, whose parameter output is a list."""
    ids = spec.node_ids()
    if source.node not in ids:
        return [Problem(where, f"no node '{source.node}'{did_you_mean(source.node, ids)}; nodes: {one_of(ids)}")]
    if source.node in loop_of(spec):
        return [Problem(where, f"'{source.node}' is itself in a loop; a loop runs over an output made once")]
    produced = (param_outputs or {}).get(source.node)
    if produced is None:  # its component did not resolve: validation says so
        return []
    kind = produced.get(source.output)
    if kind is None:
        hint = did_you_mean(source.output, produced, template=f"'{source.node}.{{}}'")
        listed = one_of(produced) if produced else "none"
        return [
            Problem(where, f"'{source}': no parameter output '{source.output}'{hint}; its parameter outputs: {listed}")
        ]
    if kind != "array":
        return [Problem(where, f"'{source}' is {kind}; a loop runs over a list (a component returning list)")]
    return []


def _reading_problems(
    spec: WorkflowSpec, node: Node, member: dict[str, str], list_inputs: dict[str, set[str]]
) -> list[Problem]:
    """Outputs of a loop node are per item: only nodes of the same loop read them, or a list input of a
    node outside every loop (it gets every iteration's)."""
    problems = []
    mine = member.get(node.id)
    many = list_inputs.get(node.id, set())
    read = [(f"inputs › {name}", b.node, str(b), name) for name, b in node.bindings().items() if b is not None]
    read += [("when", source, source, "") for source in node.condition_upstream()]
    for where, source, text, input_name in read:
        theirs = member.get(source)
        if input_name in many:
            if theirs is None or theirs == mine or mine is not None:
                problems.append(
                    Problem(
                        f"node '{node.id}' › {where}",
                        f"takes a list, one per loop iteration: bind it, from a step outside every loop, to the "
                        f"output of a step in a loop ('{text}' is not)",
                    )
                )
            continue
        if theirs is None or theirs == mine:
            continue
        problems.append(
            Problem(
                f"node '{node.id}' › {where}",
                f"reads '{text}', which loop '{theirs}' makes once per item; "
                + (
                    f"wait for the loop with after: [{source}] instead, or read it into an input that takes a list"
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
    """A step outside a loop cannot wait for a step under a condition inside it (its own `when`, or one of
    its iteration's): KFP would run it after the loop whatever the iterations' conditions said, which a
    run here could not match. (A loop under a condition from outside is fine: it runs whole or not.)"""
    inner: dict[str, bool] = {}  # under a condition that holds per iteration
    problems = []
    for node_id in spec.topological_order():
        node = spec.node(node_id)
        loop_id = member.get(node_id)
        waits = node.upstream()
        found = sorted(u for u in waits if inner.get(u) and member.get(u) != loop_id)
        if found:
            problems.append(
                Problem(
                    f"node '{node_id}'",
                    f"waits for '{found[0]}', which runs under a condition inside loop '{member[found[0]]}'; "
                    "waiting for a conditioned step in a loop from outside it is not supported yet",
                )
            )
        if loop_id is not None:
            inner[node_id] = bool(node.when) or any(inner.get(u, False) for u in waits if member.get(u) == loop_id)
    return problems


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
