"""`tessera models …`: registered models, their versions, lineage and aliases."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from studio.console import JsonOption, console, print_json

app = typer.Typer(help="Registered models: versions, lineage, promote and roll back aliases.", no_args_is_help=True)


@app.command("list")
def list_models(as_json: JsonOption = False) -> None:
    """List registered models with their latest version and aliases."""
    from rich.table import Table

    models = _models().list()
    if as_json:
        print_json(models)
        return
    table = Table(title="registered models")
    for column in ("model", "latest", "aliases"):
        table.add_column(column)
    for model in models:
        aliases = ", ".join(f"{alias} → v{version}" for alias, version in sorted(model.aliases.items()))
        table.add_row(model.name, f"v{model.latest_version}" if model.latest_version else "-", aliases)
    console.print(table)


@app.command()
def show(name: Annotated[str, typer.Argument(help="Registered model name.")], as_json: JsonOption = False) -> None:
    """Every version of a model: aliases, test metrics and lineage (run, node, component, data)."""
    from rich.table import Table

    versions = _models().versions(name)
    if as_json:
        print_json(versions)
        return
    table = Table(title=f"model {name}", title_justify="left", show_lines=True)
    for column in ("version", "aliases", "served by", "test metrics", "lineage"):
        table.add_column(column)
    for version in versions:
        lineage = version.lineage
        metrics = "\n".join(
            f"{k} {v:.4f}" for k, v in sorted(version.metrics.items()) if k in {"roc_auc", "pr_auc", "f1", "rmse", "r2"}
        )
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(version.created_at / 1000))
        trail = "\n".join([
            f"run {lineage.get('tessera.run_id', '?')} of {lineage.get('tessera.workflow', '?')}",
            f"node {lineage.get('tessera.node', '?')} · {lineage.get('tessera.component', '?')}",
            f"data {lineage.get('tessera.data_fingerprint', '?')} · registered {created}",
        ])  # fmt: skip
        served_by = version.tags.get("tessera.endpoints", "").replace(", ", "\n")
        table.add_row(f"v{version.version}", "\n".join(version.aliases), served_by or "-", metrics, trail)
    console.print(table)


@app.command()
def promote(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="Version number to promote.")],
    alias: Annotated[str, typer.Option(help="Alias to point at it.")] = "champion",
) -> None:
    """Point an alias (champion by default) at a version; the previous one is remembered for rollback."""
    info, moved = _models().promote(name, version, alias)
    console.print(f"[green]{name}@{alias}[/] → v{info.version}")
    _show_moved(moved)


@app.command()
def rollback(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    alias: Annotated[str, typer.Option(help="Alias to move back.")] = "champion",
) -> None:
    """Point an alias back at the version it pointed at before the last promote."""
    info, moved = _models().rollback(name, alias)
    console.print(f"[yellow]{name}@{alias}[/] rolled back to v{info.version}")
    _show_moved(moved)


def _models() -> Any:
    from tessera.sdk.models import Models
    from tessera.workspace import find_workspace

    return Models(find_workspace())


def _show_moved(endpoints: list[Any]) -> None:
    """Endpoints serving the alias swapped now rather than at their next poll."""
    for endpoint in endpoints:
        console.print(f"endpoint {endpoint.name} now serves {endpoint.version_summary()}")


def mlflow_ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
) -> None:
    """Start MLflow's own UI on the workspace's tracking store."""
    import os
    import subprocess

    from studio.launch import mlflow_ui_command
    from tessera.workspace import find_workspace

    workspace = find_workspace()
    console.print(f"MLflow UI for {workspace.tracking_uri()} at http://127.0.0.1:{port}  (Ctrl-C stops it)")
    command = mlflow_ui_command(workspace, port)
    subprocess.run(command, env=os.environ | {"MLFLOW_DISABLE_TELEMETRY": "true"}, check=False)
