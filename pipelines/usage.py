"""Which workflows of a workspace use which component versions ("used by")."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from component_store.store import parse_ref
from pipelines.workflow_io import parse_workflow
from tessera.errors import WorkflowInvalid
from tessera.workspace import Workspace


@dataclass(frozen=True)
class Usage:
    workflow: str  # project/name
    node: str
    component: str  # name@version
    path: Path


def component_usages(workspace: Workspace, name: str, version: str | None = None) -> list[Usage]:
    """Every node in the workspace's workflows that uses `name` (at `version`, when given).

    Workflow files that do not parse are skipped: they use nothing until they are fixed.
    """
    found = []
    for path in workspace.workflow_files():
        try:
            spec = parse_workflow(path.read_text(), str(path))
        except WorkflowInvalid:
            continue
        for node in spec.nodes:
            node_name, node_version = parse_ref(node.component)
            if node_name == name and (version is None or node_version == version):
                found.append(Usage(f"{spec.project}/{spec.name}", node.id, node.component, path))
    return found
