"""Pick the runner for a backend name, or for a recorded run (whichever backend ran it)."""

from __future__ import annotations

from typing import Any

from component_store.store import ComponentStore
from pipelines.runs import RunStore
from tessera.errors import TesseraError
from tessera.suggest import did_you_mean
from tessera.workspace import Workspace

BACKENDS = ("local", "kubeflow")


def open_runner(workspace: Workspace, store: ComponentStore, backend: str = "local") -> Any:
    """A `Runner` (see `pipelines.runner`): `local` on this machine, `kubeflow` on the workspace's Kubeflow."""
    if backend == "local":
        from pipelines.local_runner import LocalRunner

        return LocalRunner(workspace, store)
    if backend == "kubeflow":
        from pipelines.kubeflow_runner import KubeflowRunner

        return KubeflowRunner(workspace, store)
    raise TesseraError(f"Unknown backend '{backend}'{did_you_mean(backend, BACKENDS)}; backends: {', '.join(BACKENDS)}")


def default_backend(workspace: Workspace) -> str:
    """`kubeflow` when the workspace has a Kubeflow endpoint configured, else `local`."""
    return "kubeflow" if workspace.config.kubeflow is not None else "local"


def runner_of_run(workspace: Workspace, store: ComponentStore, run_id: str) -> Any:
    """The runner of the backend that ran `run_id` (a unique prefix is enough)."""
    backend = RunStore(workspace.state_dir / "runs.db").get(run_id).backend
    return open_runner(workspace, store, backend)
