"""`tessera run` and `tessera runs …`: run workflows locally and inspect, resume or cancel runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from studio.console import JsonOption, console, fail, print_json
from tessera.errors import RunFailed

app = typer.Typer(help="Inspect, preview, resume and cancel runs.", no_args_is_help=True)

STATE_STYLE = {
    "pending": "dim", "running": "bold yellow", "cached": "cyan", "succeeded": "green",
    "failed": "bold red", "skipped": "magenta", "not_run": "dim cyan", "cancelled": "yellow", "queued": "dim",
}  # fmt: skip


def _workspace() -> Any:
    """The SDK's handle on the current workspace: `tessera run` and `tessera runs …` act through it."""
    from tessera.sdk import Workspace
    from tessera.workspace import find_workspace

    return Workspace(find_workspace())


def _runner(run_id: str = "", backend: str = "local") -> Any:
    """The runner of `backend`; for `run_id`, of the backend that ran it (local or Kubeflow)."""
    from pipelines.backends import open_runner, runner_of_run
    from studio.cli_components import open_store
    from tessera.workspace import find_workspace

    workspace, store = find_workspace(), open_store()
    return runner_of_run(workspace, store, run_id) if run_id else open_runner(workspace, store, backend)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}s"


def _node_table(record: Any) -> Any:
    from rich.markup import escape
    from rich.table import Table

    style = STATE_STYLE.get(record.status, "")
    table = Table(
        title=f"run {record.id} · {record.workflow} · [{style}]{record.status}[/] · {_seconds(record.seconds)}",
        title_justify="left",
    )
    for column in ("node", "state", "time", "detail"):
        table.add_column(column)
    for node in record.nodes:
        detail = node.message or (", ".join(node.outputs) if node.outputs else "")
        state = f"[{STATE_STYLE.get(node.status, '')}]{node.status}[/]"
        seconds = _seconds(node.seconds) if node.status != "cached" else ""
        table.add_row(escape(node.node_id), state, seconds, escape(detail))  # `train[eu]` is no markup
    return table


def _finish(record: Any) -> None:
    if record.status == "succeeded":
        cached = sum(n.status == "cached" for n in record.nodes)
        console.print(
            f"[green]Run {record.id} succeeded[/] in {_seconds(record.seconds)} ({cached} of {len(record.nodes)} nodes from cache)"
        )
        return
    failed = [n for n in record.nodes if n.status == "failed"]
    hint = f"; see the log with: tessera runs logs {record.id} {failed[0].node_id}" if failed else ""
    raise RunFailed(
        f"Run {record.id} {record.status}: {record.message}{hint}. Resume it with: tessera runs resume {record.id}"
    )


def _watch(start: Any) -> Any:
    """Run `start(on_change)` under a live per-node table."""
    from rich.live import Live

    latest: dict[str, Any] = {}

    def render() -> Any:
        # Rendered on every refresh, so a running node's time keeps ticking between state changes.
        return _node_table(latest["record"]) if latest else ""

    with Live(console=console, refresh_per_second=4, transient=False, get_renderable=render):
        record = start(lambda record: latest.update(record=record))
    console.line()
    return record


def run_command(
    workflow: Annotated[str, typer.Argument(help="A workflow file, or PROJECT/NAME or NAME in the workspace.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Run parameter NAME=VALUE (repeatable).")
    ] = None,
    sample: Annotated[int, typer.Option(help="Quick mode: data sources keep at most N rows.", min=0)] = 0,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Run every node, ignoring cached outputs.")] = False,
    max_parallel: Annotated[int, typer.Option(help="Most nodes at once (0 = CPU count).", min=0)] = 0,
    isolation: Annotated[
        str, typer.Option(help="fork (preloaded, fast) or spawn (fresh interpreter per node).")
    ] = "fork",
    backend: Annotated[
        str, typer.Option(help="local (this machine) or kubeflow (the workspace's Kubeflow Pipelines).")
    ] = "local",
    detach: Annotated[bool, typer.Option("--detach", help="Kubeflow: return once the run is created.")] = False,
) -> None:
    """Run a workflow on this machine or on Kubeflow, showing each node's state as it goes."""
    from pipelines.run_params import parse_run_params
    from studio.cli_workflow import print_review_warnings

    if isolation not in ("fork", "spawn"):
        fail(f"--isolation must be fork or spawn, not '{isolation}'")
    ws = _workspace()
    chosen = ws.workflow(workflow)
    values = parse_run_params(chosen.spec, param or [])
    how: dict[str, Any] = {
        "sample": sample, "no_cache": no_cache, "max_parallel": max_parallel, "backend": backend,
        "isolation": "spawn" if isolation == "spawn" else "fork",
    }  # fmt: skip
    if backend == "local":
        print_review_warnings(chosen.spec, ws.store)
        _finish(_watch(lambda on_change: ws.run(chosen, values, on_change=on_change, **how).record))
        return
    run = ws.run(chosen, values, wait=False, **how)
    console.print(f"Run {run.id} created on Kubeflow: {run.record.options['kubeflow_url']}", soft_wrap=True)
    if not detach:
        _finish(_watch(lambda on_change: run.wait(on_change=on_change).record))


@app.command("list")
def list_runs(
    workflow: Annotated[str | None, typer.Option(help="Only runs of PROJECT/NAME.")] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this state.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """List recent runs."""
    from rich.table import Table

    records = _runner().runs.recent(limit=limit, workflow=workflow, status=status)
    if as_json:
        print_json(records)
        return
    table = Table(title="runs")
    for column in ("run", "workflow", "state", "started", "time", "nodes"):
        table.add_column(column)
    for record in records:
        counts: dict[str, int] = {}
        for node in record.nodes:
            counts[node.status] = counts.get(node.status, 0) + 1
        started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.started_at or record.created_at))
        table.add_row(
            record.id,
            record.workflow,
            f"[{STATE_STYLE.get(record.status, '')}]{record.status}[/]",
            started,
            _seconds(record.seconds),
            " ".join(f"{v} {k}" for k, v in counts.items()),
        )
    console.print(table)


@app.command()
def show(
    run: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")], as_json: JsonOption = False
) -> None:
    """Show a run: parameters and every node's state, time and outputs."""
    record = _workspace().get_run(run).record
    if as_json:
        print_json(record)
        return
    console.print(_node_table(record))
    if record.options.get("kubeflow_url"):
        console.print(f"Kubeflow: {record.options['kubeflow_url']}")
    console.print("params: " + ", ".join(f"{k}={v!r}" for k, v in record.params.items()))
    if record.options.get("sample"):
        console.print(f"quick mode: {record.options['sample']} rows")


@app.command()
def logs(
    run: Annotated[str, typer.Argument(help="Run id.")], node: Annotated[str, typer.Argument(help="Node id.")]
) -> None:
    """Print a node's log (its stdout and stderr)."""
    print(_workspace().get_run(run).logs(node), end="")


@app.command()
def preview(
    run: Annotated[str, typer.Argument(help="Run id.")],
    node: Annotated[str, typer.Argument(help="Node id.")],
    output: Annotated[str | None, typer.Argument(help="Output name; the first Dataset output by default.")] = None,
    rows: Annotated[int, typer.Option(help="How many rows to show.")] = 10,
) -> None:
    """Show a node's Dataset output: first rows, schema and column statistics."""
    from rich.table import Table

    from pipelines.preview import preview_table
    from tessera.suggest import did_you_mean, one_of

    record = _runner().status(run).node(node)
    if not record.outputs:
        fail(f"node '{node}' has no outputs (it is {record.status})")
    datasets = [name for name, out in record.outputs.items() if out["type"] == "system.Dataset"]
    name = output or (datasets[0] if datasets else next(iter(record.outputs)))
    if name not in record.outputs:
        fail(
            f"node '{node}' has no output '{name}'{did_you_mean(name, record.outputs)}; outputs: {one_of(record.outputs)}"
        )
    uri = record.outputs[name]["uri"]
    if record.outputs[name]["type"] != "system.Dataset":
        console.print(Path(uri).read_text(errors="replace") if Path(uri).is_file() else f"{uri} (a folder)")
        return
    table_preview = preview_table(uri, rows)
    stats = Table(
        title=f"{node}.{name}: {table_preview.rows} rows × {len(table_preview.columns)} columns", title_justify="left"
    )
    for column in ("column", "type", "nulls", "min", "max"):
        stats.add_column(column)
    for c in table_preview.columns:
        stats.add_row(c.name, c.type, str(c.nulls), str(c.minimum), str(c.maximum))
    console.print(stats)
    console.print(table_preview.head_frame().to_string(max_cols=12))


@app.command()
def resume(run: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Run again the nodes that failed, were skipped or cancelled; finished ones come from the cache."""
    handle = _workspace().get_run(run)
    _finish(_watch(lambda on_change: handle.resume(on_change=on_change).record))


@app.command()
def prune(
    days: Annotated[float, typer.Option(help="Keep outputs used by runs of the last DAYS days.", min=0)] = 30,
) -> None:
    """Free disk: delete cached node outputs no recent run uses, and leftovers of crashed nodes."""
    removed, freed = _runner().prune_cache(days)
    console.print(f"Removed {removed} cache entr{'y' if removed == 1 else 'ies'}, freed {freed / 1e6:.1f} MB")


@app.command()
def cancel(run: Annotated[str, typer.Argument(help="Run id.")]) -> None:
    """Stop a running run: its running nodes are killed and it is marked cancelled."""
    handle = _workspace().get_run(run).cancel()
    console.print(f"Run {handle.id} is {handle.record.status}")
