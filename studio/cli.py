"""The `tessera` command line.

Every command prints a user error as one clear message per problem (no traceback) and
exits with code 2. Heavy modules are imported inside the commands, so `tessera --help`
answers fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from studio import cli_components, cli_endpoints, cli_models, cli_runs, cli_workflow
from studio.console import console, fail

app = typer.Typer(
    name="tessera",
    help="Tessera: compose vetted ML components into workflows, run them locally or on Kubeflow, serve the models.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(cli_components.app, name="components")
app.add_typer(cli_workflow.app, name="workflow")
app.add_typer(cli_runs.app, name="runs")
app.command("run")(cli_runs.run_command)
app.add_typer(cli_models.app, name="models")
app.add_typer(cli_endpoints.app, name="endpoint")
app.command("mlflow-ui")(cli_models.mlflow_ui)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder of the new workspace (created if missing).")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Workspace name; the folder's name by default.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Add the demo project 'risk' with its workflows.")] = False,
) -> None:
    """Create a workspace: tessera.yaml, projects/ and the .tessera/ state folder."""
    from studio.demo import copy_demo_projects
    from tessera.workspace import init_workspace

    workspace = init_workspace(directory, name)
    if demo:
        copied = copy_demo_projects(workspace)
        console.print(f"Added demo workflows: {', '.join(copied)}")
    console.print(f"[green]Created workspace '{workspace.config.name}'[/] in {workspace.root}")


def main() -> None:
    """Console-script entry point: run the app, turning user errors into exit code 2."""
    from tessera.errors import TesseraError

    try:
        app()
    except TesseraError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
