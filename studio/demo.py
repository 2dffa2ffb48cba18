"""The demo workspace that ships in `examples/demo`: copied into new workspaces on request."""

from __future__ import annotations

import shutil
from pathlib import Path

from tessera.errors import WorkspaceError
from tessera.workspace import Workspace

DEMO_WORKSPACE = Path(__file__).resolve().parents[1] / "examples" / "demo"


def copy_demo_projects(workspace: Workspace) -> list[str]:
    """Copy the demo's projects into `workspace`; returns `project/workflow` names, skips existing files."""
    source = DEMO_WORKSPACE / "projects"
    if not source.is_dir():
        raise WorkspaceError(f"The demo projects are not at {source}; install Tessera from a clone of its repository")
    copied = []
    for path in sorted(source.rglob("*")):
        target = workspace.projects_dir / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not target.exists():
            shutil.copyfile(path, target)
            if path.suffix == ".yaml" and path.parent.name == "workflows":
                copied.append(f"{path.parent.parent.name}/{path.stem}")
    return copied
