"""`tessera monitor …` (drift reports over the prediction log, pruning it) and `tessera demo traffic`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from studio.console import JsonOption, console, fail, print_json

app = typer.Typer(
    help="Watch endpoints: drift of what they are asked against what they learned from.", no_args_is_help=True
)
demo_app = typer.Typer(help="Demo helpers.", no_args_is_help=True)


@app.command()
def report(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    since: Annotated[str, typer.Option(help="The window: the last 24h, 30m, 7d…")] = "24h",
    drift_share: Annotated[
        float, typer.Option(help="The dataset drifts when at least this share of its columns drift.", min=0, max=1)
    ] = 0.5,
    as_json: JsonOption = False,
) -> None:
    """Drift of an endpoint's logged inputs and predictions against its version's training data."""
    from serving.monitoring import monitor_report, parse_window
    from tessera.workspace import find_workspace

    with console.status(f"comparing {endpoint}'s last {since} with its reference…"):
        found = monitor_report(find_workspace(), endpoint, parse_window(since), drift_share)
    if as_json:
        print_json(found)
        return
    _show(found)


def _show(found: dict[str, Any]) -> None:
    from rich.table import Table

    window = found["window"]
    verdict = "[bold red]DRIFT[/]" if found["dataset_drift"] else "[green]no dataset drift[/]"
    console.print(
        f"{found['endpoint']} serving {found['model_version']}: {window['rows']} logged rows "
        f"from {window['from'][:19]} to {window['to'][:19]} vs a reference of {found['reference_rows']} rows: "
        f"{verdict} ({found['drift_share']:.0%} of columns drifted)"
    )
    table = Table(title_justify="left")
    for column in ("column", "kind", "statistic", "value", "threshold", "drift", "PSI", "missing", "quality"):
        table.add_column(column)
    quality = {q["name"]: q for q in found["data_quality"]}
    for drift in [*found["columns"], *([found["prediction"]] if found.get("prediction") else [])]:
        q = quality.get(drift["name"], {})
        note = (
            f"{q['out_of_range']:.0%} out of range"
            if q.get("out_of_range")
            else f"{q['unseen_share']:.0%} unseen"
            if q.get("unseen_share")
            else ""
        )
        table.add_row(
            drift["name"], drift["kind"], drift["statistic"], f"{drift['value']:.4g}", f"{drift['threshold']:g}",
            "[red]yes[/]" if drift["drifted"] else "no", f"{drift['psi']:.3f}",
            f"{q['missing_current']:.0%}" if q else "", note,
        )  # fmt: skip
    console.print(table)


@app.command()
def labels(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    file: Annotated[Path, typer.Argument(help="Labels: a .csv or .parquet file.")],
    key: Annotated[str, typer.Option(help="How labels meet predictions: request_id, or an input column (player_id).")],
    label: Annotated[str | None, typer.Option(help="The label column (when the file has more than one other).")] = None,
    every: Annotated[str, typer.Option(help="Window size: 1d, 6h…")] = "1d",
    as_json: JsonOption = False,
) -> None:
    """The task's metrics on predictions whose labels arrived, per window, beside the version's test metrics
    (kept for the studio's Monitoring page)."""
    from rich.table import Table

    from serving.monitoring import parse_window, performance_report, read_labels, save_performance
    from tessera.workspace import find_workspace

    parse_window(every)  # a clear error for a bad window before any work
    workspace = find_workspace()
    found = performance_report(workspace, endpoint, read_labels(file), key, label, every)
    save_performance(workspace, found)  # the Monitoring page draws it
    if as_json:
        print_json(found)
        return
    names = sorted({k for w in found["windows"] for k in w} - {"from", "model_version", "rows"})
    table = Table(title=f"{endpoint}: {found['labelled_rows']} labelled predictions (by {found['key']})")
    for column in ("window", "version", "rows", *names):
        table.add_column(column)
    for window in found["windows"]:
        table.add_row(window["from"][:16], window["model_version"], str(window["rows"]),
                      *(f"{window[n]:.4f}" if n in window else "" for n in names))  # fmt: skip
    tested = found["test_metrics"]
    table.add_row("test set", "", "", *(f"{tested[n]:.4f}" if n in tested else "" for n in names), style="dim")
    console.print(table)


@app.command()
def check(
    force: Annotated[bool, typer.Option("--force", help="Check every monitor now, due or not.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Check the monitors of tessera.yaml that are due: drift alerts and starts retraining once per episode."""
    from component_store.store import workspace_store
    from pipelines.monitors import check_monitors
    from tessera.workspace import find_workspace

    workspace = find_workspace()
    if not workspace.config.monitors:
        console.print("no monitors in tessera.yaml: add one under `monitors:` (endpoint, every, window, on_drift)")
        return
    outcomes = check_monitors(workspace, workspace_store(workspace), force=force)
    if as_json:
        print_json(outcomes)
        return
    if not outcomes:
        console.print("no monitor is due yet (use --force to check now)")
    for outcome in outcomes:
        colour = {"drift": "red", "no_drift": "green"}.get(outcome.status, "yellow")
        console.print(f"[{colour}]{outcome.status:>8}[/] {outcome.endpoint}  {outcome.message}", soft_wrap=True)


@app.command()
def schedule() -> None:
    """Make each monitor of tessera.yaml a recurring run on Kubeflow (monitor/ENDPOINT): monitor_endpoint,
    then the retraining workflow's steps once per drift episode. Run it again after changing monitors."""
    from component_store.store import workspace_store
    from pipelines.monitors import schedule_monitors
    from tessera.workspace import find_workspace

    workspace = find_workspace()
    if not workspace.config.monitors:
        fail("no monitors in tessera.yaml: add one under `monitors:` (endpoint, every, window, on_drift)")
    for made in schedule_monitors(workspace, workspace_store(workspace)):
        console.print(f"scheduled {made.name}  cron {made.cron}")


@app.command()
def prune(
    days: Annotated[float, typer.Option(help="Keep the last DAYS days of logged predictions.", min=0)] = 30,
    endpoint: Annotated[str | None, typer.Option(help="Only this endpoint's log.")] = None,
) -> None:
    """Delete logged predictions older than DAYS days (and leftovers of writes cut short)."""
    from serving.monitoring import prune_log
    from tessera.workspace import find_workspace

    removed, freed = prune_log(find_workspace(), days, endpoint)
    console.print(f"Removed {removed} file{'' if removed == 1 else 's'}, freed {freed / 1e6:.1f} MB")


@demo_app.command()
def traffic(
    endpoint: Annotated[str, typer.Argument(help="Endpoint name.")],
    rows: Annotated[int, typer.Option(help="How many rows to send.", min=1)] = 2000,
    batch: Annotated[int, typer.Option(help="Rows per request.", min=1)] = 20,
    shift: Annotated[bool, typer.Option("--shift", help="Send a population that moved away from training.")] = False,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Send realistic requests (rows like the training data's) to an endpoint, so its monitoring has data."""
    from rich.progress import Progress

    from serving.monitoring import demo_rows
    from tessera.sdk import Workspace
    from tessera.workspace import find_workspace

    ws = Workspace(find_workspace())
    handle = ws.endpoint(endpoint)
    frame, changed = demo_rows(ws.folder, endpoint, rows, shift, seed)
    if shift:
        console.print(f"shifted: {', '.join(changed)}")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"sending {rows} rows to {endpoint}", total=rows)
        for start in range(0, rows, batch):
            handle.predict(frame.iloc[start : start + batch])
            progress.advance(task, min(batch, rows - start))
    console.print(f"[green]sent[/] {rows} rows to {endpoint}; see: tessera monitor report {endpoint}")
