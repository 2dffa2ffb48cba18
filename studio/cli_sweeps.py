"""`tessera sweep …`: one run per point of a parameter grid, compared side by side.

tessera sweep WF --grid max_depth=3,5,7 --grid test_size=0.2,0.3 [-p players=2000]
tessera sweep show ID [--json] [--plot metric.png]
tessera sweep list
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from studio.console import JsonOption, console, fail, print_json


class _StartByDefault(TyperGroup):
    """`tessera sweep WF …` means `tessera sweep start WF …`; `show` and `list` are commands of their own."""

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args.insert(0, "start")
        return super().resolve_command(ctx, args)


app = typer.Typer(
    cls=_StartByDefault, help="Sweep run parameters over a grid and compare the runs.", no_args_is_help=True
)


def _sweeps(backend: str = "local") -> Any:
    from pipelines.backends import open_runner
    from pipelines.sweeps import Sweeps
    from studio.cli_components import open_store
    from tessera.workspace import find_workspace

    workspace, store = find_workspace(), open_store()
    return Sweeps(workspace, open_runner(workspace, store, backend), store)


@app.command()
def start(
    workflow: Annotated[str, typer.Argument(help="A workflow file, or PROJECT/NAME or NAME in the workspace.")],
    grid: Annotated[list[str], typer.Option("--grid", "-g", help="NAME=V1,V2,… (repeat for more parameters).")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="A fixed run parameter NAME=VALUE.")] = None,
    parallelism: Annotated[
        int, typer.Option(help="Runs at once (locally the first point runs alone, to fill the cache).")
    ] = 2,
    sample: Annotated[int, typer.Option(help="Quick mode: data sources keep at most N rows.")] = 0,
    backend: Annotated[
        str, typer.Option(help="local, or kubeflow (one run per point in the project's experiment).")
    ] = "local",
) -> None:
    """Start one run per grid point and wait for them all; then compare them."""
    from rich.live import Live

    from pipelines.run_params import parse_run_params
    from pipelines.runner import RunOptions
    from pipelines.sweeps import grid_points, parse_grid
    from pipelines.workflow_io import load_workflow
    from studio.cli_workflow import open_workflow

    if parallelism < 1:
        fail("--parallelism must be at least 1")
    path, store = open_workflow(workflow)
    spec = load_workflow(path, store)
    values = parse_grid(spec, grid)
    fixed = parse_run_params(spec, param or [])
    sweeps = _sweeps(backend)
    console.print(f"Sweep of {spec.project}/{spec.name}: {len(grid_points(values))} points")
    latest: dict[str, Any] = {}
    with Live(console=console, refresh_per_second=4, get_renderable=lambda: _progress(latest)):
        sweep = sweeps.start(
            spec, values, fixed, RunOptions(sample=sample), parallelism,
            on_change=lambda s, records: latest.update(sweep=s, records=records),
        )  # fmt: skip
    _show_rows(sweep, sweeps.compare(sweep))
    console.print(f"compare again with: tessera sweep show {sweep.id}")


def _progress(latest: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title="sweep")
    for column in ("point", "run", "status"):
        table.add_column(column)
    if not latest:
        return table
    for point, record in zip(latest["sweep"].runs, latest["records"], strict=False):
        table.add_row(", ".join(f"{k}={v}" for k, v in point["params"].items()), record.id, record.status)
    return table


@app.command()
def show(
    sweep_id: Annotated[str, typer.Argument(help="A sweep id (a unique prefix is enough).")],
    as_json: JsonOption = False,
    plot: Annotated[
        Path | None, typer.Option(help="Write a PNG of each metric against the first swept parameter.")
    ] = None,
) -> None:
    """Each point's parameters, status and metrics side by side."""
    sweeps = _sweeps()
    sweep = sweeps.get(sweep_id)
    rows = sweeps.compare(sweep)
    if as_json:
        print_json({"id": sweep.id, "workflow": sweep.workflow, "grid": sweep.grid, "points": rows})
        return
    _show_rows(sweep, rows)
    if plot is not None:
        _plot(sweep, rows, plot)
        console.print(f"plot written to {plot}")


@app.command("list")
def list_sweeps() -> None:
    """Every sweep of this workspace."""
    for sweep in _sweeps().all():
        grid = " × ".join(f"{k}({len(v)})" for k, v in sweep.grid.items())
        console.print(f"{sweep.id}  {sweep.workflow}  {grid}  {len(sweep.runs)} runs")


def _show_rows(sweep: Any, rows: list[dict[str, Any]]) -> None:
    from rich.table import Table

    columns = list(dict.fromkeys(key for row in rows for key in row))
    table = Table(title=f"sweep {sweep.id} of {sweep.workflow}")
    for column in columns:
        table.add_column(column, justify="right" if column not in ("run", "status") else "left")
    for row in rows:
        table.add_row(*(f"{row[c]:.4g}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns))
    console.print(table)


def _plot(sweep: Any, rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    swept = next(iter(sweep.grid))
    metrics = [k for k in dict.fromkeys(k for r in rows for k in r) if "." in k]
    if not metrics:
        fail("the sweep's runs have no Metrics outputs to plot")
    figure, axes = plt.subplots(1, len(metrics), figsize=(4 * len(metrics), 3), squeeze=False)
    for axis, metric in zip(axes[0], metrics, strict=True):
        axis.scatter([r[swept] for r in rows if metric in r], [r[metric] for r in rows if metric in r])
        axis.set_xlabel(swept)
        axis.set_ylabel(metric)
    figure.tight_layout()
    figure.savefig(path)
