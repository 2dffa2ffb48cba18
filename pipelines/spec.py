"""The workflow spec: one immutable, YAML-serialisable value that every face shares.

The studio edits it, the CLI validates it, the compiler turns it into KFP IR and the
local runner executes it. It knows nothing about kfp, streamlit or mlflow.

    name: cheater_detection
    project: risk
    params:
      test_size: {type: number, default: 0.2, description: share of held-out rows}
    nodes:
      - id: load
        component: sample_dataset@1.0.0
        params: {dataset: player_risk}
      - id: split
        component: train_test_split@1.0.0
        params: {label: is_cheater, test_size: "${params.test_size}"}
        inputs: {table: load.table}
        resources: {cpu: "2", memory: 4Gi}
    layout:
      load: {x: 0, y: 0}

Edges are derived from `inputs` bindings (`<node>.<output>`); there is no second place
to state them. Control flow: `after: [node]` waits without reading outputs; `when:` runs a node
only if a condition over run parameters and upstream parameter outputs holds (pipelines/conditions.py);
a node downstream of one that did not run does not run either; `loops:` run a group of nodes once per
item of a list (pipelines/loops.py). Shape is checked here; meaning (components, types, cycles) is checked by
`pipelines.validation` against the store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ParamType = Literal["string", "integer", "number", "boolean", "array", "object"]
PARAM_REF = re.compile(r"^\$\{params\.([A-Za-z_][A-Za-z0-9_]*)\}$")
NODE_ID = r"^[a-z][a-z0-9_-]*$"


def param_reference(value: Any) -> str | None:
    """The workflow parameter a node value refers to: `'${params.x}'` -> `'x'`, else None."""
    if isinstance(value, str):
        match = PARAM_REF.match(value.strip())
        if match:
            return match.group(1)
    return None


def ordered_by_waits(waits: dict[str, set[str]]) -> list[str] | None:
    """The keys so that each comes after the keys it waits for, stable by the dict's order; None on a cycle."""
    remaining = {key: set(waited) for key, waited in waits.items()}
    order: list[str] = []
    while remaining:
        ready = [key for key, waited in remaining.items() if not waited]
        if not ready:
            return None
        for key in ready:
            order.append(key)
            del remaining[key]
        for waited in remaining.values():
            waited.difference_update(ready)
    return order


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WorkflowParam(_Frozen):
    """A typed run parameter of the whole workflow, referenced by nodes as `${params.name}`."""

    type: ParamType
    default: Any = None
    description: str = ""


class Resources(_Frozen):
    """What one node asks of the machine it runs on (Kubernetes quantities)."""

    cpu: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?m?$", description="cores, e.g. '2' or '500m'")
    memory: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?$", description="e.g. '4Gi'")
    gpu: int = Field(default=0, ge=0, le=16)
    gpu_type: str = "nvidia.com/gpu"


class Binding(_Frozen):
    """One artifact input bound to an upstream node's output."""

    node: str
    output: str

    @classmethod
    def parse(cls, text: str) -> Binding | None:
        node, dot, output = text.partition(".")
        return cls(node=node, output=output) if dot and node and output else None

    def __str__(self) -> str:
        return f"{self.node}.{self.output}"


class Node(_Frozen):
    """One step: a pinned component version, its parameter values and its input bindings."""

    id: str = Field(pattern=NODE_ID)
    component: str = Field(description="name@version")
    params: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(default_factory=dict, description="input name -> '<node>.<output>'")
    resources: Resources | None = None
    retries: int = Field(default=0, ge=0, le=10)
    cache: bool = True
    after: tuple[str, ...] = Field(default=(), description="nodes this one waits for without reading their outputs")
    when: str | None = Field(
        default=None, description="run only if this holds, e.g. \"gate.decision == 'accept'\" (pipelines/conditions.py)"
    )

    def bindings(self) -> dict[str, Binding | None]:
        """Input name -> parsed binding (None where the text is not `<node>.<output>`)."""
        return {name: Binding.parse(text) for name, text in self.inputs.items()}

    def upstream(self) -> set[str]:
        """Every node this one waits for: inputs it reads, `after`, and the nodes its condition reads."""
        return self.data_upstream() | set(self.after) | self.condition_upstream()

    def data_upstream(self) -> set[str]:
        return {b.node for b in self.bindings().values() if b is not None}

    def condition_upstream(self) -> set[str]:
        """Nodes whose parameter outputs the condition reads (none for a condition that does not parse:
        validation reports it)."""
        if not self.when:
            return set()
        from pipelines.conditions import ConditionError, references

        try:
            return {r.source for r in references(self.when) if r.source != "params"}
        except ConditionError:
            return set()


class Loop(_Frozen):
    """A group of nodes run once per item of a list (KFP's `dsl.ParallelFor`); see pipelines/loops.py."""

    for_each: str | list[Any] = Field(
        description="a list run parameter ('${params.regions}'), a literal list, or an upstream list output ('node.output')"
    )
    parallelism: int = Field(default=0, ge=0, le=1000, description="iterations running at once (0: no limit)")
    nodes: tuple[str, ...] = Field(description="the nodes run per item; they read the item as '${loop.item}'")


class Position(_Frozen):
    x: float = 0.0
    y: float = 0.0


class WorkflowSpec(_Frozen):
    """A whole workflow. Build it with `pipelines.workflow_io.load_workflow` to get it validated."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    project: str = Field(default="default", pattern=r"^[a-z][a-z0-9_-]*$")
    description: str = ""
    params: dict[str, WorkflowParam] = Field(default_factory=dict)
    nodes: tuple[Node, ...] = ()
    on_exit: str | None = Field(
        default=None, description="a node that runs last, whatever happened (a notification); it reads no outputs"
    )
    loops: dict[str, Loop] = Field(default_factory=dict)
    layout: dict[str, Position] = Field(default_factory=dict)

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)

    def node_ids(self) -> list[str]:
        return [n.id for n in self.nodes]

    def edges(self) -> Iterator[tuple[str, str, str, str]]:
        """`(from_node, output, to_node, input)` for every binding that names a node of this workflow."""
        ids = set(self.node_ids())
        for node in self.nodes:
            for input_name, binding in node.bindings().items():
                if binding is not None and binding.node in ids:
                    yield binding.node, binding.output, node.id, input_name

    def downstream(self, node_id: str) -> set[str]:
        """Every node that depends, directly or not, on `node_id`."""
        children: dict[str, set[str]] = {}
        for source, _, target, _ in self.edges():
            children.setdefault(source, set()).add(target)
        found: set[str] = set()
        stack = [node_id]
        while stack:
            for child in children.get(stack.pop(), ()):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found

    def find_cycle(self) -> list[str] | None:
        """One dependency loop as node ids (`['a', 'b', 'a']`), or None when the graph is acyclic."""
        parents = {n.id: sorted(n.upstream() & set(self.node_ids())) for n in self.nodes}
        state: dict[str, int] = {}  # 1 = on the current path, 2 = done
        path: list[str] = []

        def visit(node_id: str) -> list[str] | None:
            state[node_id] = 1
            path.append(node_id)
            for parent in parents.get(node_id, []):
                if state.get(parent) == 1:
                    loop = path[path.index(parent) :] + [parent]
                    return list(reversed(loop))
                if parent not in state and (found := visit(parent)):
                    return found
            path.pop()
            state[node_id] = 2
            return None

        for node_id in parents:
            if node_id not in state and (loop := visit(node_id)):
                return loop
        return None

    def topological_order(self) -> list[str]:
        """Node ids so that every node comes after the nodes it reads from (stable by file order).

        Raises:
            ValueError: on a cycle (validated workflows have none).
        """
        ids = set(self.node_ids())
        order = ordered_by_waits({n.id: n.upstream() & ids for n in self.nodes})
        if order is None:
            raise ValueError(f"workflow '{self.name}' has a cycle: {' → '.join(self.find_cycle() or [])}")
        return order

    def with_node(self, node: Node) -> WorkflowSpec:
        """A copy with `node` replacing the node of the same id, or appended."""
        nodes = [node if n.id == node.id else n for n in self.nodes]
        if node.id not in self.node_ids():
            nodes.append(node)
        return self.model_copy(update={"nodes": tuple(nodes)})
