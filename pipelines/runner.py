"""The runner protocol: what every execution backend (local, Kubeflow) promises.

A runner takes a validated workflow and run parameters and gives back run records
(`pipelines.runs.RunRecord`), the one shape the CLI and the studio read.

Contract (checked by `tests/pipelines/test_runner_contract.py` for every runner):

- `submit(spec, params, options)` validates the workflow and the parameters *before*
  anything starts (bad input raises `WorkflowInvalid` and records no run), then starts
  the run and returns its record at once (status `queued` or `running`). It never blocks
  on the run finishing.
- `status(run_id)` returns the current record; a unique prefix of the id is enough.
  Node states are Tessera's (`pending, running, cached, succeeded, failed, skipped,
  cancelled`) whatever the backend calls them. A run whose executor vanished is
  reported `failed`, never left `running`.
- `wait(run_id, timeout)` blocks until the run reaches a final state
  (`succeeded, failed, cancelled`) or the timeout passes, and returns the record.
- `logs(run_id, node_id)` returns the node's log text (or where to read it).
- `cancel(run_id)` stops the run's running nodes and marks it `cancelled`; cancelling a
  finished run changes nothing (idempotent).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pipelines.run_params import effective_params, with_run_params
from pipelines.runs import RunRecord, RunStore
from pipelines.spec import WorkflowSpec
from pipelines.workflow_io import check_workflow, workflow_to_yaml

if TYPE_CHECKING:
    from component_store.store import ComponentStore


@dataclass(frozen=True)
class RunOptions:
    """How to run, beyond the workflow's own parameters.

    Attributes:
        sample: quick mode: data sources keep at most this many rows (0 = full run).
        no_cache: run every node even if its outputs are cached.
        max_parallel: most nodes running at once (0 = the machine's CPU count).
        isolation: local runner only: `fork` (preloaded server, fast) or `spawn` (fresh interpreter).
    """

    sample: int = 0
    no_cache: bool = False
    max_parallel: int = 0
    isolation: Literal["fork", "spawn"] = "fork"


class Runner(Protocol):
    backend: str

    def submit(self, spec: WorkflowSpec, params: dict[str, Any], options: RunOptions) -> RunRecord: ...

    def status(self, run_id: str) -> RunRecord: ...

    def wait(self, run_id: str, timeout: float) -> RunRecord: ...

    def logs(self, run_id: str, node_id: str) -> str: ...

    def cancel(self, run_id: str) -> RunRecord: ...


def validated_params(spec: WorkflowSpec, params: dict[str, Any], store: ComponentStore) -> dict[str, Any]:
    """Every run parameter's value (given or default), once the workflow with them is valid.

    Raises:
        WorkflowInvalid: the workflow, or a parameter, has problems (all listed).
    """
    check_workflow(with_run_params(spec, params), store)
    return effective_params(spec, params)


def record_run(
    runs: RunStore, run_id: str, spec: WorkflowSpec, values: dict[str, Any], backend: str, options: dict[str, Any],
    node_ids: list[str] | None = None,
) -> RunRecord:  # fmt: skip
    """Record a queued run of `spec`: its YAML and digest, parameter values, backend and options; its
    nodes are `node_ids` (a runner that unrolls loops records each instance) or the spec's."""
    text = workflow_to_yaml(spec)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    workflow = f"{spec.project}/{spec.name}"
    return runs.create(run_id, workflow, digest, text, values, backend, options, node_ids or spec.topological_order())


def follow(runner: Runner, run_id: str, on_change: Callable[[RunRecord], None], poll_seconds: float = 2.0) -> RunRecord:
    """Poll a run (of any runner) until it ends, showing each record to `on_change`; stopping the caller
    (Ctrl-C) stops the watching, not the run."""
    from pipelines.runs import FINAL_RUN_STATES

    while True:
        record = runner.status(run_id)
        on_change(record)
        if record.status in FINAL_RUN_STATES:
            return record
        time.sleep(getattr(runner, "poll_seconds", poll_seconds))
