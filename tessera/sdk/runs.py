"""`Run`: a live handle on one run of a workflow, on whichever backend ran it."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessera.errors import TesseraError
from tessera.suggest import did_you_mean, one_of

if TYPE_CHECKING:
    from pipelines.runs import NodeRecord, RunRecord

OnChange = Callable[["RunRecord"], None]


class Run:
    """One run: its state and nodes (read fresh on every access), outputs, logs, resume and cancel.

    Example:
        >>> run = ws.run("cheater_detection", params={"n_trials": 3})  # doctest: +SKIP
        >>> run.state, run.nodes["tune"].status  # doctest: +SKIP
        ('succeeded', 'succeeded')
        >>> run.output("split", "train").shape  # doctest: +SKIP
        (4000, 18)
    """

    def __init__(self, runner: Any, record: RunRecord, progress: bool = True):
        self._runner = runner
        self._record = record
        self._progress = progress

    @property
    def id(self) -> str:
        return self._record.id

    @property
    def record(self) -> RunRecord:
        """The run's record now (`pipelines.runs.RunRecord`, a frozen value)."""
        self._record = self._runner.status(self._record.id)
        return self._record

    @property
    def state(self) -> str:
        """queued, running, succeeded, failed or cancelled."""
        return self.record.status

    @property
    def nodes(self) -> dict[str, NodeRecord]:
        """Node id -> its record (status, times, outputs, message), in the workflow's order."""
        return {node.node_id: node for node in self.record.nodes}

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._record.params)

    def metrics(self) -> dict[str, float]:
        """`node.metric` -> value for every number in the run's Metrics outputs."""
        from pipelines.runs import run_metrics

        return run_metrics(self.record)

    def output(self, node: str, name: str | None = None) -> Any:
        """A node's output as Python has it: a Dataset as a pandas DataFrame, Metrics as a dict, a Model
        loaded (a scikit-learn estimator, or an MLflow pyfunc), a parameter output as its value, any
        other artifact as its path. `name` defaults to the node's only (or first Dataset) output."""
        outputs = self._node_outputs(node)
        if name is None:
            datasets = [n for n, o in outputs.items() if o["type"] == "system.Dataset"]
            name = datasets[0] if datasets else next(iter(outputs))
        if name not in outputs:
            raise TesseraError(
                f"node '{node}' has no output '{name}'{did_you_mean(name, outputs)}; outputs: {one_of(outputs)}"
            )
        output = outputs[name]
        kind = output["type"]
        if "value" in output:
            return output["value"]
        if kind == "system.Dataset":
            from pipelines.preview import read_dataset

            return read_dataset(output["uri"])
        if kind in ("system.Metrics", "system.ClassificationMetrics"):
            return dict(output.get("metadata") or {})
        if kind == "system.Model" and (Path(output["uri"]) / "MLmodel").exists():
            from serving.model_registry import load_model

            return load_model(output["uri"])
        return Path(output["uri"])

    def logs(self, node: str) -> str:
        """A node's log: its stdout and stderr (on Kubeflow, where to read them)."""
        self.record.node(node)  # names the nodes when this one does not exist
        return str(self._runner.logs(self.id, node))

    def wait(self, timeout: float = 24 * 3600, on_change: OnChange | None = None) -> Run:
        """Block until the run ends (showing progress, or telling `on_change`), then return this handle."""
        from pipelines.runner import follow

        deadline = time.monotonic() + timeout
        display = on_change or self._display()

        def show(record: RunRecord) -> None:
            display(record)
            if time.monotonic() > deadline and record.status not in ("succeeded", "failed", "cancelled"):
                raise TimeoutError(f"run {self.id} is still {record.status} after {timeout:.0f}s (it goes on)")

        self._record = follow(self._runner, self.id, show, poll_seconds=0.5)
        return self

    def resume(self, wait: bool = True, on_change: OnChange | None = None) -> Run:
        """Run again the nodes that failed, were skipped or cancelled; finished ones come from the cache."""
        if not hasattr(self._runner, "resume"):
            raise TesseraError(f"runs on {self._record.backend} cannot be resumed from here: start a new run")
        if wait:
            self._record = self._runner.resume(self.id, on_change or self._display())
            return self
        self._record = self._runner.submit_resume(self.id)
        return self

    def cancel(self) -> Run:
        """Stop the run: running nodes are killed and it is marked cancelled (idempotent)."""
        self._record = self._runner.cancel(self.id)
        return self

    def raise_for_state(self) -> Run:
        """Raise `RunFailed` naming the failed nodes unless the run succeeded."""
        from tessera.errors import RunFailed

        record = self.record
        if record.status != "succeeded":
            failed = [n.node_id for n in record.nodes if n.status == "failed"]
            where = f"; failed: {', '.join(failed)} (see run.logs('{failed[0]}'))" if failed else ""
            raise RunFailed(f"Run {record.id} {record.status}: {record.message}{where}")
        return self

    def _display(self) -> OnChange:
        from tessera.sdk.display import live_run_display

        return live_run_display(self._progress)

    def _node_outputs(self, node: str) -> dict[str, Any]:
        record = self.record.node(node)
        if not record.outputs:
            raise TesseraError(f"node '{node}' has no outputs: it is {record.status}")
        return dict(record.outputs)

    def __repr__(self) -> str:
        return f"Run({self._record.id!r}, workflow={self._record.workflow!r}, state={self._record.status!r})"

    def _repr_html_(self) -> str:
        from tessera.sdk.display import run_html

        return run_html(self.record)
