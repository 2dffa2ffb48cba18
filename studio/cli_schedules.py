"""`tessera schedule …`: recurring runs of a workflow on Kubeflow Pipelines."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from studio.console import JsonOption, console, print_json

app = typer.Typer(help="Recurring runs on Kubeflow: create, list, pause, resume, delete.", no_args_is_help=True)


def _schedules() -> Any:
    from pipelines.schedules import Schedules
    from studio.cli_components import open_store
    from tessera.workspace import find_workspace

    return Schedules(find_workspace(), open_store())


@app.command()
def create(
    workflow: Annotated[str, typer.Argument(help="A workflow file, or PROJECT/NAME or NAME in the workspace.")],
    cron: Annotated[str, typer.Option(help="When, as five cron fields, e.g. '0 3 * * *' (03:00 every day).")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Run parameter NAME=VALUE (repeatable).")
    ] = None,
    name: Annotated[str, typer.Option(help="Schedule name; PROJECT/WORKFLOW by default.")] = "",
    max_concurrency: Annotated[int, typer.Option(help="Most runs of this schedule at once.", min=1)] = 1,
) -> None:
    """Run a workflow on Kubeflow on a cron schedule, with fixed parameters."""
    from pipelines.run_params import parse_run_params
    from pipelines.workflow_io import load_workflow
    from studio.cli_workflow import open_workflow

    schedules = _schedules()
    path, _ = open_workflow(workflow)
    spec = load_workflow(path, schedules.store)
    schedule = schedules.create(spec, cron, parse_run_params(spec, param or []), name, max_concurrency)
    from pipelines.schedules import next_runs

    console.print(
        f"Scheduled [bold]{schedule.name}[/] ({schedule.cron}, KFP's six fields) in {schedules.settings.namespace}"
    )
    upcoming = ", ".join(t.strftime("%a %Y-%m-%d %H:%M UTC") for t in next_runs(cron, 3))
    console.print(f"next runs: {upcoming}")


@app.command("list")
def list_schedules(as_json: JsonOption = False) -> None:
    """List the namespace's schedules."""
    from rich.table import Table

    schedules = _schedules().list()
    if as_json:
        print_json(schedules)
        return
    table = Table(title="schedules")
    for column in ("name", "cron", "state", "params", "created", "id"):
        table.add_column(column)
    for s in schedules:
        params = ", ".join(f"{k}={v!r}" for k, v in s.params.items())
        state = "[green]enabled[/]" if s.enabled else "[yellow]paused[/]"
        table.add_row(s.name, s.cron, state, params, s.created_at, s.id)
    console.print(table)


@app.command()
def pause(name: Annotated[str, typer.Argument(help="Schedule name or id.")]) -> None:
    """Stop starting new runs (runs already started go on)."""
    schedule = _schedules().pause(name)
    console.print(f"Paused {schedule.name}")


@app.command()
def resume(name: Annotated[str, typer.Argument(help="Schedule name or id.")]) -> None:
    """Start runs on the schedule again."""
    schedule = _schedules().resume(name)
    console.print(f"Resumed {schedule.name}")


@app.command()
def delete(name: Annotated[str, typer.Argument(help="Schedule name or id.")]) -> None:
    """Delete a schedule (its past runs stay in Kubeflow)."""
    schedule = _schedules().delete(name)
    console.print(f"Deleted {schedule.name}")
