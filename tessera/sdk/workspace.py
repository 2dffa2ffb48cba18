"""`Workspace` and `open`: the SDK's entry, a live handle on one workspace folder.

(`tessera.workspace.Workspace` is the kernel's value for the folder and its settings; this class
wraps one and reaches the runners, registries and stores through it.)
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from functools import cached_property
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tessera.sdk.components import Components
from tessera.sdk.endpoints import EndpointHandle, Endpoints
from tessera.sdk.models import Models
from tessera.sdk.runs import Run
from tessera.sdk.workflows import Workflow

if TYPE_CHECKING:
    from component_store.store import ComponentStore
    from pipelines.runs import RunRecord
    from tessera.workspace import Workspace as WorkspaceFolder


def open(path: str | Path | None = None) -> Workspace:  # noqa: A001 (tessera.open reads best)
    """The workspace at `path`, or found as the CLI finds it: `TESSERA_HOME`, else the current folder
    or the nearest one above it with a `tessera.yaml`.

    Raises:
        WorkspaceError: no workspace there, saying how to make one (`tessera init`).
    """
    from tessera.workspace import find_workspace

    return Workspace(find_workspace(Path(path) if path is not None else None))


class Workspace:
    """A workspace: its workflows, runs, models, endpoints and components.

    Example:
        >>> ws = tessera.open()  # doctest: +SKIP
        >>> run = ws.run("cheater_detection", params={"n_trials": 3}, sample=500)  # doctest: +SKIP
        >>> ws.models.load("cheater-detector@champion")  # doctest: +SKIP
    """

    def __init__(self, folder: WorkspaceFolder):
        self.folder = folder

    @property
    def root(self) -> Path:
        return self.folder.root

    @property
    def name(self) -> str:
        return self.folder.config.name

    @property
    def store(self) -> ComponentStore:
        """The component store workflows resolve against: built-in, then the team stores (read afresh)."""
        from component_store.store import workspace_store

        return workspace_store(self.folder)

    # ---- workflows ------------------------------------------------------------------------

    @property
    def workflows(self) -> builtins.list[str]:
        """Every workflow as `project/name`."""
        return [f"{path.parent.parent.name}/{path.stem}" for path in self.folder.workflow_files()]

    def workflow(self, name: str) -> Workflow:
        """A workflow (`name`, `project/name` or a file), validated, ready to edit, run or save."""
        from pipelines.workflow_io import load_workflow

        store = self.store
        path = self.folder.find_workflow(name)
        return Workflow(load_workflow(path, store), path, store, self.folder.config.runtime_image)

    def new_workflow(self, name: str, project: str = "default", description: str = "") -> Workflow:
        """An empty workflow, saved at once (a name that exists is refused: nothing is overwritten)."""
        from pipelines.spec import WorkflowSpec
        from pipelines.workflow_io import save_workflow
        from tessera.errors import WorkspaceError

        spec = WorkflowSpec(name=name, project=project, description=description)
        path = self.folder.workflows_dir(project) / f"{name}.yaml"
        if path.exists():
            raise WorkspaceError(f"workflow {project}/{name} already exists at {path}: ws.workflow('{project}/{name}')")
        path.parent.mkdir(parents=True, exist_ok=True)
        save_workflow(spec, path)
        return Workflow(spec, path, self.store, self.folder.config.runtime_image)

    # ---- runs -----------------------------------------------------------------------------

    def run(
        self, workflow: str | Workflow, params: dict[str, Any] | None = None, *, sample: int | None = None,
        backend: str = "local", wait: bool = True, no_cache: bool = False, max_parallel: int = 0,
        isolation: Literal["fork", "spawn"] = "fork", progress: bool = True,
        on_change: Callable[[RunRecord], None] | None = None,
    ) -> Run:  # fmt: skip
        """Run a workflow (a name, or a `Workflow` as edited, saved or not).

        With `wait` (the default) it blocks, showing each node's state (a live table in a notebook),
        and returns the finished `Run`; a failed run is returned, not raised (`run.raise_for_state()`).
        With `wait=False` it returns at once: the run goes on in a process of its own (`run.wait()`).
        `sample` is quick mode: data sources keep at most that many rows. `on_change` (a function of the
        run's record) replaces the built-in progress display.

        Raises:
            WorkflowInvalid: the workflow or the parameters are wrong (every problem listed); nothing ran.
        """
        from pipelines.backends import open_runner
        from pipelines.runner import RunOptions, follow
        from tessera.sdk.display import live_run_display

        spec = (workflow if isinstance(workflow, Workflow) else self.workflow(workflow)).spec
        runner = open_runner(self.folder, self.store, backend)
        options = RunOptions(sample=sample or 0, no_cache=no_cache, max_parallel=max_parallel, isolation=isolation)
        show = on_change or live_run_display(progress)
        if wait and backend == "local":
            return Run(runner, runner.run(spec, params or {}, options, show), progress)
        record = runner.submit(spec, params or {}, options)
        if wait:
            record = follow(runner, record.id, show)
        return Run(runner, record, progress)

    def runs(self, workflow: str | None = None, limit: int = 20) -> builtins.list[Run]:
        """Recent runs, newest first (of one workflow, `project/name`, when given)."""
        from pipelines.backends import open_runner

        local = open_runner(self.folder, self.store, "local")
        return [self.get_run(record.id) for record in local.runs.recent(limit=limit, workflow=workflow)]

    def get_run(self, run_id: str) -> Run:
        """A run by id (a unique prefix is enough), on whichever backend ran it."""
        from pipelines.backends import runner_of_run

        runner = runner_of_run(self.folder, self.store, run_id)
        return Run(runner, runner.status(run_id))

    # ---- models, endpoints, components -------------------------------------------------------

    @cached_property
    def models(self) -> Models:
        return Models(self.folder)

    @cached_property
    def endpoints(self) -> Endpoints:
        return Endpoints(self.folder)

    def endpoint(self, name: str) -> EndpointHandle:
        return EndpointHandle(self.folder, name)

    @cached_property
    def components(self) -> Components:
        return Components(self.folder)

    def __repr__(self) -> str:
        return f"Workspace({self.name!r}, root={str(self.root)!r})"

    def _repr_html_(self) -> str:
        from tessera.sdk.display import table_html

        rows = [(escape(name),) for name in self.workflows]
        return (
            f"<div><b>workspace {escape(self.name)}</b> at <code>{escape(str(self.root))}</code>"
            f"{table_html('workflows', ('workflow',), rows)}</div>"
        )
