"""The processes `tessera up` starts: the Streamlit studio, MLflow's UI and (with --lab) JupyterLab, on loopback."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from tessera.stores import prepare_stores
from tessera.workspace import Workspace

APP = Path(__file__).resolve().parent / "app.py"
EXAMPLE_NOTEBOOKS = Path(__file__).resolve().parents[1] / "examples" / "notebooks"


def studio_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """`streamlit run studio/app.py` headless; XSRF and CORS protection stay on (Streamlit's defaults).

    Streamlit collects all garbage generations after every script run, fragments included; with pandas,
    scikit-learn, kfp and MLflow loaded that was 44 % of the studio's CPU while the designer followed a
    run (py-spy), taken from the run itself on a small machine. Python's own collector still runs."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.enableXsrfProtection", "true",
        "--server.enableCORS", "true", "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
        "--runner.postScriptGC", "false",
    ]  # fmt: skip


def mlflow_ui_command(workspace: Workspace, port: int) -> list[str]:
    """MLflow's own server and UI on the workspace's tracking store (created first, so it never races a run)."""
    prepare_stores(workspace)
    uri = workspace.tracking_uri()
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", uri, "--host", "127.0.0.1",
               "--port", str(port)]  # fmt: skip
    if uri.startswith(("sqlite", "postgresql")):
        command += ["--default-artifact-root", workspace.mlflow_artifacts.as_uri()]
    return command


def jupyterlab_command(workspace: Workspace, port: int, token: str) -> list[str]:
    """JupyterLab on loopback in the workspace, behind `token`; refused with the extra to install when missing.

    Raises:
        TesseraError: JupyterLab is not installed.
    """
    from tessera.errors import TesseraError

    if importlib.util.find_spec("jupyterlab") is None:
        raise TesseraError('JupyterLab is not installed: pip install "tessera[lab]" (or run without --lab)')
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={workspace.root}",
    ]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers run as root; JupyterLab refuses it unless told
        command.append("--allow-root")
    return command


def copy_example_notebooks(workspace: Workspace) -> Path:
    """The example notebooks in the workspace's `notebooks/` folder (a notebook already there is kept)."""
    folder = workspace.root / "notebooks"
    folder.mkdir(exist_ok=True)
    for notebook in sorted(EXAMPLE_NOTEBOOKS.glob("*.ipynb")):
        if not (folder / notebook.name).exists():
            shutil.copyfile(notebook, folder / notebook.name)
    return folder
