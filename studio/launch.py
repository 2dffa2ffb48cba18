"""The processes `tessera up` starts: the Streamlit studio and MLflow's UI, both on loopback."""

from __future__ import annotations

import sys
from pathlib import Path

from tessera.stores import prepare_stores
from tessera.workspace import Workspace

APP = Path(__file__).resolve().parent / "app.py"


def studio_command(port: int, address: str = "127.0.0.1") -> list[str]:
    """`streamlit run studio/app.py` headless; XSRF and CORS protection stay on (Streamlit's defaults)."""
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--browser.gatherUsageStats", "false", "--server.enableXsrfProtection", "true",
        "--server.enableCORS", "true", "--server.fileWatcherType", "none", "--client.toolbarMode", "minimal",
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
