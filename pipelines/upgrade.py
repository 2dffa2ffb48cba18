"""Moving a workflow's pins to newer component versions, saying what changes and what it would break.

`plan_upgrade(spec, store)` pins every node to the latest *approved* version of its component
(review and deprecated versions are never chosen), classifies each move (component_store/versions.py)
and validates the upgraded workflow: a move whose new version the workflow no longer fits (a
parameter it sets was removed or retyped, an input it binds is gone, a new required parameter) is
`breaking`, with the problems named.
"""

from __future__ import annotations

from dataclasses import dataclass

from component_store.spec import version_key
from component_store.store import ComponentStore, parse_ref
from component_store.versions import VersionChange, classify_change
from pipelines.spec import WorkflowSpec
from pipelines.validation import validate_workflow
from tessera.errors import ComponentNotFound, Problem


@dataclass(frozen=True)
class PinMove:
    node: str
    old: str  # name@version
    new: str
    change: VersionChange
    problems: tuple[Problem, ...] = ()  # what the upgraded workflow's node no longer fits

    @property
    def breaking(self) -> bool:
        return bool(self.problems)


def latest_approved(store: ComponentStore, name: str, within_major: str | None = None) -> str | None:
    """The newest approved version of `name` (with `within_major`, the newest of that version's major)."""
    approved = [
        v.version
        for v in store.versions(name)
        if store.info(name, v.version).status == "approved"
        and (within_major is None or v.version.split(".")[0] == within_major.split(".")[0])
    ]
    return max(approved, key=version_key) if approved else None


def plan_upgrade(spec: WorkflowSpec, store: ComponentStore, to: str = "latest") -> tuple[WorkflowSpec, list[PinMove]]:
    """The workflow pinned to the latest approved versions (`to="compatible"`: within each pin's major
    version), and each move with what it changes and breaks."""
    moves: list[PinMove] = []
    nodes = []
    for node in spec.nodes:
        name, version = parse_ref(node.component)
        try:
            target = latest_approved(store, name, version if to == "compatible" else None)
        except ComponentNotFound:
            target = None
        if target is None or version is None or version_key(target) <= version_key(version):
            nodes.append(node)
            continue
        change = classify_change(store.get(name, version), store.get(name, target))
        moves.append(PinMove(node.id, node.component, f"{name}@{target}", change))
        nodes.append(node.model_copy(update={"component": f"{name}@{target}"}))
    upgraded = spec.model_copy(update={"nodes": tuple(nodes)})
    problems = validate_workflow(upgraded, store)
    moves = [
        PinMove(m.node, m.old, m.new, m.change, tuple(p for p in problems if p.where.startswith(f"node '{m.node}'")))
        for m in moves
    ]
    return upgraded, moves
