"""The `tessera` command line.

Every command prints a user error as one clear message per problem (no traceback) and
exits with code 2. Heavy modules are imported inside the commands, so `tessera --help`
answers fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from studio import (
    cli_components,
    cli_endpoints,
    cli_models,
    cli_monitor,
    cli_runs,
    cli_schedules,
    cli_sweeps,
    cli_workflow,
)
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
app.add_typer(cli_schedules.app, name="schedule")
app.add_typer(cli_sweeps.app, name="sweep")
app.command("run")(cli_runs.run_command)
app.add_typer(cli_models.app, name="models")
app.add_typer(cli_endpoints.app, name="endpoint")
app.add_typer(cli_monitor.app, name="monitor")
app.add_typer(cli_monitor.demo_app, name="demo")
app.command("mlflow-ui")(cli_models.mlflow_ui)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Folder of the new workspace (created if missing).")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Workspace name; the folder's name by default.")] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Add the demo project 'risk' with its workflows.")] = False,
) -> None:
    """Create a workspace: tessera.yaml, projects/ and the .tessera/ state folder."""
    from studio.demo import copy_demo_projects
    from tessera.stores import prepare_stores
    from tessera.workspace import init_workspace

    workspace = init_workspace(directory, name)
    prepare_stores(workspace)
    if demo:
        copied = copy_demo_projects(workspace)
        console.print(f"Added demo workflows: {', '.join(copied)}")
    console.print(f"[green]Created workspace '{workspace.config.name}'[/] in {workspace.root}")


@app.command()
def up(
    port: Annotated[int, typer.Option(help="Studio port.")] = 8501,
    address: Annotated[
        str, typer.Option(help="Address the studio listens on: 127.0.0.1 here; 0.0.0.0 in a container.")
    ] = "127.0.0.1",
    mlflow_port: Annotated[int, typer.Option(help="MLflow UI port on 127.0.0.1 (0: do not start it).")] = 5000,
    demo: Annotated[
        bool, typer.Option("--demo", help="In a folder without a workspace, create one with the demo.")
    ] = False,
    lab: Annotated[
        bool, typer.Option("--lab", help="Also start JupyterLab in the workspace, with the example notebooks.")
    ] = False,
    lab_port: Annotated[int, typer.Option(help="JupyterLab port on 127.0.0.1 (with --lab).")] = 8888,
) -> None:
    """Start the studio on this workspace, plus MLflow's UI (and JupyterLab); prints the URLs. Ctrl-C stops all."""
    import os
    import signal
    import subprocess

    from studio.demo import copy_demo_projects
    from studio.launch import mlflow_ui_command, studio_command
    from tessera.errors import WorkspaceError
    from tessera.ports import port_free
    from tessera.workspace import find_workspace, init_workspace

    try:
        workspace = find_workspace()
    except WorkspaceError:
        if not demo:
            raise
        workspace = init_workspace(Path.cwd())
        console.print(
            f"Created workspace '{workspace.config.name}' with the demo: {', '.join(copy_demo_projects(workspace))}"
        )
    if not port_free(port):
        fail(f"port {port} on 127.0.0.1 is in use (a studio already running?): pick another with --port")
    if mlflow_port and not port_free(mlflow_port):
        console.print(f"[yellow]port {mlflow_port} is in use: MLflow's UI not started (pick one with --mlflow-port)[/]")
        mlflow_port = 0
    environment = os.environ | workspace.component_environment()
    processes = []
    lab_url = ""
    if lab:
        import secrets

        from studio.launch import copy_example_notebooks, jupyterlab_command

        if not port_free(lab_port):
            fail(f"port {lab_port} on 127.0.0.1 is in use (JupyterLab already running?): pick another with --lab-port")
        token = secrets.token_urlsafe(24)
        notebooks = copy_example_notebooks(workspace).relative_to(workspace.root)
        processes.append(subprocess.Popen(jupyterlab_command(workspace, lab_port, token), env=environment,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
        lab_url = f"http://127.0.0.1:{lab_port}/lab/tree/{notebooks}?token={token}"
    if mlflow_port:
        processes.append(subprocess.Popen(mlflow_ui_command(workspace, mlflow_port), env=environment,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    if mlflow_port:  # the studio links runs and model versions to MLflow's UI
        environment["TESSERA_MLFLOW_UI"] = f"http://127.0.0.1:{mlflow_port}"
    studio = subprocess.Popen(studio_command(port, address), env=environment)
    processes.append(studio)
    supervising = _supervise_endpoints(workspace)
    console.print(f"[bold]Tessera studio[/] http://{address}:{port}   workspace {workspace.root}")
    if mlflow_port:
        console.print(f"[bold]MLflow UI[/]      http://127.0.0.1:{mlflow_port}")
    if lab_url:
        console.print(f"[bold]JupyterLab[/]     {lab_url}", soft_wrap=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the children below are stopped too
    try:
        studio.wait()
    finally:
        supervising.set()
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _supervise_endpoints(workspace: Any) -> Any:
    """Restart crashed local endpoints (and, after a reboot, those that were serving) and check the monitors
    of tessera.yaml while the studio runs."""
    import logging
    import threading

    from serving.local_target import LocalProcessTarget
    from serving.supervisor import EndpointSupervisor

    stop = threading.Event()

    def supervise() -> None:  # built in the thread: opening the registry imports MLflow, which takes a second
        EndpointSupervisor(LocalProcessTarget(workspace)).run(stop)

    def monitor() -> None:  # the monitors of tessera.yaml, each on its own schedule
        from component_store.store import workspace_store
        from pipelines.monitors import check_monitors

        while not stop.wait(30):
            try:
                check_monitors(workspace, workspace_store(workspace))
            except Exception:  # a bad round must not stop the studio
                logging.getLogger("tessera.monitors").exception("monitor round failed")

    threading.Thread(target=supervise, name="endpoint-supervisor", daemon=True).start()
    if workspace.config.monitors:
        threading.Thread(target=monitor, name="monitors", daemon=True).start()
    return stop


def main() -> None:
    """Console-script entry point: failed operations exit 1, usage and validation errors 2 (see README)."""
    from studio.console import OPERATION_FAILED
    from tessera.errors import OperationFailed, TesseraError

    try:
        app()
    except OperationFailed as exc:
        fail(str(exc), OPERATION_FAILED)
    except TesseraError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        console.print("[yellow]Interrupted[/]")
        sys.exit(130)


if __name__ == "__main__":
    main()
