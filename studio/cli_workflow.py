"""`tessera workflow …`: create, validate and compile workflows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from studio.console import console, fail

if TYPE_CHECKING:
    from component_store.store import ComponentStore

app = typer.Typer(help="Create, validate and compile workflows.", no_args_is_help=True)

WorkflowArgument = Annotated[str, typer.Argument(help="A workflow file, or PROJECT/NAME or NAME in the workspace.")]


def open_workflow(ref: str) -> tuple[Path, ComponentStore]:
    """The workflow file a user named (a path, PROJECT/NAME or NAME) and the store to resolve it against."""
    from studio.cli_components import open_store
    from tessera.errors import WorkspaceError
    from tessera.workspace import find_workspace

    path = Path(ref)
    if path.suffix in {".yaml", ".yml"} and path.exists():
        return path, open_store()
    try:
        workspace = find_workspace()
    except WorkspaceError as exc:
        fail(f"'{ref}' is not a workflow file, and {exc}")
    return workspace.find_workflow(ref), open_store()


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="Workflow name (lowercase, digits, - and _).")],
    project: Annotated[str, typer.Option("--project", "-p", help="Project folder to put it in.")] = "default",
    description: Annotated[str, typer.Option(help="One line on what it does.")] = "",
) -> None:
    """Create an empty workflow file in a project of the current workspace."""
    from pydantic import ValidationError

    from pipelines.spec import WorkflowSpec
    from pipelines.workflow_io import save_workflow
    from tessera.workspace import find_workspace

    workspace = find_workspace()
    try:
        spec = WorkflowSpec(name=name, project=project, description=description)
    except ValidationError as exc:
        fail("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()))
    path = workspace.workflows_dir(project) / f"{name}.yaml"
    if path.exists():
        fail(f"{path} exists already; pick another name or edit that file")
    save_workflow(spec, path)
    console.print(f"[green]Created[/] {path}")


@app.command()
def validate(workflows: Annotated[list[str], typer.Argument(help="Workflows to check.")]) -> None:
    """Check workflows against the store and list every problem of each."""
    from pipelines.workflow_io import load_workflow
    from tessera.errors import WorkflowInvalid

    invalid = 0
    for ref in workflows:
        path, store = open_workflow(ref)
        try:
            spec = load_workflow(path, store)
        except WorkflowInvalid as exc:
            invalid += 1
            console.print(f"[red]✗[/] {exc}")
            continue
        console.print(f"[green]✓[/] {path}: {len(spec.nodes)} nodes, {len(list(spec.edges()))} edges, valid")
        print_review_warnings(spec, store)
    if invalid:
        fail(f"{invalid} of {len(workflows)} workflow(s) invalid")


def print_review_warnings(spec: Any, store: Any) -> None:
    from rich.markup import escape

    from pipelines.validation import review_warnings

    for warning in review_warnings(spec, store):
        console.print(f"  [yellow]warning:[/] {escape(str(warning))}", highlight=False)


@app.command("compile")
def compile_command(
    workflow: WorkflowArgument,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the KFP pipeline YAML.")],
    image: Annotated[str | None, typer.Option(help="Runtime image; the workspace's runtime_image by default.")] = None,
) -> None:
    """Compile a workflow into a Kubeflow Pipelines v2 YAML (IR) with the kfp compiler."""
    from pipelines.compiler import compile_to_yaml
    from pipelines.workflow_io import load_workflow
    from tessera.errors import WorkspaceError
    from tessera.workspace import find_workspace, write_atomically

    path, store = open_workflow(workflow)
    spec = load_workflow(path, store)
    if image is None:
        try:
            image = find_workspace().config.runtime_image
        except WorkspaceError:
            image = None
    write_atomically(output, compile_to_yaml(spec, store, runtime_image=image))
    console.print(f"[green]Compiled[/] {spec.project}/{spec.name} ({len(spec.nodes)} tasks) to {output}")


@app.command()
def upgrade(
    workflow: WorkflowArgument,
    force: Annotated[bool, typer.Option("--force", help="Upgrade even where the workflow no longer fits.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; write nothing.")] = False,
    to: Annotated[
        str, typer.Option(help="latest: the newest approved versions; compatible: the newest within each major.")
    ] = "latest",
) -> None:
    """Move a workflow's pins to the latest approved versions; shows each change and refuses breaking ones."""
    from rich.markup import escape
    from rich.table import Table

    from pipelines.upgrade import plan_upgrade
    from pipelines.workflow_io import load_workflow, save_workflow

    path, store = open_workflow(workflow)
    spec = load_workflow(path, store)
    if to not in ("latest", "compatible"):
        fail(f"--to takes latest or compatible, not '{to}'")
    upgraded, moves = plan_upgrade(spec, store, to)
    if not moves:
        console.print(f"[green]✓[/] {spec.project}/{spec.name} pins the latest approved version of every component")
        return
    table = Table(title=f"{len(moves)} pin(s) to move")
    for column in ("node", "from", "to", "change", "what changed"):
        table.add_column(column)
    for move in moves:
        table.add_row(move.node, move.old, move.new, move.change.bump, escape(move.change.describe()))
    console.print(table)
    breaking = [m for m in moves if m.breaking]
    for move in breaking:
        for problem in move.problems:
            console.print(f"  [red]breaks:[/] {escape(str(problem))}")
    if breaking and not force:
        fail(
            f"{len(breaking)} move(s) break the workflow: fix the nodes first, upgrade within major versions "
            "with --to compatible, or pass --force to write them anyway"
        )
    if dry_run:
        console.print("[dim]--dry-run: nothing written[/]")
        return
    save_workflow(upgraded, path)  # atomically, keeping the file's comments; checked above (or --force)
    console.print(f"[green]upgraded[/] {path} (comments and layout kept)")
