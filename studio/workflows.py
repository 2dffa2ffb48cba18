"""Creating workflows from the studio: blank, or a copy of a demo workflow."""

from __future__ import annotations

from pathlib import Path

from pipelines.spec import WorkflowSpec
from pipelines.workflow_io import parse_workflow, save_workflow
from studio.demo import DEMO_WORKSPACE
from tessera.errors import TesseraError
from tessera.workspace import Workspace

TEMPLATES = {
    "blank": None,
    "cheater detection (demo)": DEMO_WORKSPACE / "projects/risk/workflows/cheater_detection.yaml",
    "player features (demo)": DEMO_WORKSPACE / "projects/risk/workflows/player_features.yaml",
    "cheater detection with Spark + Feast (demo)": DEMO_WORKSPACE
    / "projects/risk/workflows/cheater_detection_feast.yaml",
}


def new_workflow(workspace: Workspace, project: str, name: str, template: str = "blank") -> Path:
    """Write a new workflow file; refuses a bad name or one that exists (nothing is overwritten)."""
    from pydantic import ValidationError

    if template not in TEMPLATES:
        raise TesseraError(f"unknown template '{template}'; templates: {', '.join(TEMPLATES)}")
    try:
        source_path = TEMPLATES[template]
        if source_path is None:
            spec = WorkflowSpec(name=name, project=project)
        else:
            source = parse_workflow(source_path.read_text())
            spec = source.model_copy(update={"name": name, "project": project})
            WorkflowSpec.model_validate(spec.model_dump())
    except ValidationError as exc:
        fields = ", ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors())
        raise TesseraError(
            f"{fields} (names are lower-case letters, digits, '_' or '-', starting with a letter, e.g. churn_model)"
        ) from None
    path = workspace.workflows_dir(project) / f"{name}.yaml"
    if path.exists():
        raise TesseraError(f"workflow {project}/{name} already exists at {path}: pick another name")
    path.parent.mkdir(parents=True, exist_ok=True)
    save_workflow(spec, path)
    return path
