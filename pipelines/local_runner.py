"""The embedded default engine: run a workflow on this machine through KFP's executor.

Nodes run as their own processes (see `pipelines.executor`), independent nodes in
parallel, with outputs cached by fingerprint (`pipelines.artifacts`) and every state
change recorded (`pipelines.runs`). A failing node fails the run and skips its
downstream nodes while independent branches finish; running again, or `resume`, picks
up from the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from multiprocessing.connection import wait as wait_for_sentinels
from pathlib import Path
from typing import Any

from component_store.store import ComponentStore, parse_ref, workspace_store
from pipelines.artifacts import ArtifactCache, node_fingerprint
from pipelines.conditions import Reference, evaluate
from pipelines.executor import ExecutorCall, NodeProcess, executor_input, read_executor_call, read_outputs, start_node
from pipelines.loops import expand_loops, instance_id, iteration_label
from pipelines.preflight import local_problems
from pipelines.runner import RunOptions, record_run, validated_params
from pipelines.runs import DONE_NODE_STATES, FINAL_RUN_STATES, RunRecord, RunStore, new_run_id
from pipelines.spec import Node, WorkflowSpec, param_reference
from pipelines.workflow_io import parse_workflow
from tessera.errors import TesseraError, WorkflowInvalid
from tessera.stores import prepare_stores, stores_ready
from tessera.workspace import Workspace

OnChange = Callable[[RunRecord], None]
_CANCEL_CHECK_SECONDS = 0.25


class RunCancelled(Exception):
    """Raised inside the driver loop when a cancel was asked for."""


@dataclass
class _Running:
    process: NodeProcess
    partial: Path
    fingerprint: str
    call: ExecutorCall
    replace: bool


class LocalRunner:
    """Runs workflows of one workspace on this machine.

    Example:
        >>> runner = LocalRunner(workspace, ComponentStore())  # doctest: +SKIP
        >>> record = runner.run(spec, {"test_size": 0.3}, RunOptions(sample=500))  # doctest: +SKIP
        >>> [n.status for n in record.nodes]  # doctest: +SKIP
        ['succeeded', 'succeeded', ...]
    """

    backend = "local"

    def __init__(self, workspace: Workspace, store: ComponentStore):
        self.workspace = workspace
        self.store = store
        self.runs = RunStore(workspace.state_dir / "runs.db")
        self.cache = ArtifactCache(workspace.state_dir / "artifacts")

    # ---- the runner protocol ----------------------------------------------------------

    def submit(self, spec: WorkflowSpec, params: dict[str, Any], options: RunOptions = RunOptions()) -> RunRecord:
        """Record the run and start a detached driver process for it; returns at once."""
        record = self.create_run(spec, params, options)
        self._start_driver(record.id)
        return self.runs.get(record.id)

    def submit_in_process(
        self, spec: WorkflowSpec, params: dict[str, Any], options: RunOptions = RunOptions()
    ) -> RunRecord:
        """Record the run and drive it on a thread of this process; returns at once.

        The nodes fork from this process's fork server, which stays warm from one run to the next
        (pandas, pyarrow, scikit-learn loaded): a studio preview of a changed step costs that step, not a
        new driver process and a new fork server (docs/benchmarks.md, studio previews). The run ends with
        this process, so this is for quick runs a person waits for; `submit` for the rest."""
        record = self.create_run(spec, params, options)
        threading.Thread(target=self._drive_quietly, args=(record.id,), name=f"run-{record.id}", daemon=True).start()
        return record

    def _drive_quietly(self, run_id: str) -> None:
        try:
            self.execute(run_id)
        except Exception:  # the run is recorded failed with the reason; nobody is there to catch it
            logging.getLogger("tessera.runner").exception("run %s stopped", run_id)

    def status(self, run_id: str) -> RunRecord:
        return self.runs.get(run_id)

    def wait(self, run_id: str, timeout: float = 3600) -> RunRecord:
        deadline = time.monotonic() + timeout
        while True:
            record = self.runs.get(run_id)
            if record.status in FINAL_RUN_STATES or time.monotonic() > deadline:
                return record
            time.sleep(0.05)

    def logs(self, run_id: str, node_id: str) -> str:
        node = self.runs.get(run_id).node(node_id)
        if not node.log_path or not Path(node.log_path).exists():
            return f"(node '{node_id}' has no log: it was {node.status})\n"
        return Path(node.log_path).read_text(errors="replace")

    def cancel(self, run_id: str) -> RunRecord:
        record = self.runs.get(run_id)
        if record.status in FINAL_RUN_STATES:
            return record
        self.runs.request_cancel(record.id)
        if record.status == "queued" and not record.driver_pid:
            self.runs.finish_orphan(record.id, "cancelled", "cancelled before it started")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            record = self.runs.get(record.id)
            if record.status in FINAL_RUN_STATES:
                return record
            time.sleep(0.1)
        self.runs.finish_orphan(record.id, "cancelled", "cancelled")
        return self.runs.get(record.id)

    # ---- running in this process ------------------------------------------------------

    def run(
        self,
        spec: WorkflowSpec,
        params: dict[str, Any] | None = None,
        options: RunOptions = RunOptions(),
        on_change: OnChange | None = None,
    ) -> RunRecord:
        """Run `spec` to the end in this process; `on_change` sees the record after every state change."""
        record = self.create_run(spec, params or {}, options)
        return self.execute(record.id, on_change)

    def resume(self, run_id: str, on_change: OnChange | None = None) -> RunRecord:
        """Run again the nodes of `run_id` that did not finish; finished ones come from the cache."""
        record = self._reset_for_resume(run_id)
        return self.execute(record.id, on_change)

    def submit_resume(self, run_id: str) -> RunRecord:
        """`resume` in a detached driver process; returns at once."""
        record = self._reset_for_resume(run_id)
        self._start_driver(record.id)
        return self.runs.get(record.id)

    def _reset_for_resume(self, run_id: str) -> RunRecord:
        record = self.runs.get(run_id)
        if record.status == "running":
            raise TesseraError(f"Run {record.id} is still running; wait for it or cancel it first")
        _stop_leftover_nodes(record)
        self.runs.reset_for_resume(record.id)
        _close_cut_off_tracking(self.workspace, record.id)
        return record

    def create_run(self, spec: WorkflowSpec, params: dict[str, Any], options: RunOptions) -> RunRecord:
        """Validate the workflow with these parameters and record a queued run."""
        values = validated_params(spec, params, self.store)
        problems = local_problems(spec, self.store)
        if problems:
            raise WorkflowInvalid(f"'{spec.name}' (on this machine)", problems)
        instances = expand_loops(spec, values).spec.topological_order()
        return record_run(self.runs, new_run_id(), spec, values, self.backend, asdict(options), instances)

    def execute(self, run_id: str, on_change: OnChange | None = None) -> RunRecord:
        """Drive a recorded run until every node is done, failed, skipped or cancelled."""
        record = self.runs.get(run_id)
        spec = parse_workflow(record.workflow_yaml, f"run {run_id}")
        options = RunOptions(**record.options)
        resumed = record.started_at is not None
        if not self.runs.claim(run_id):  # cancelled before this driver started, or driven by another
            return self.runs.get(run_id)
        try:
            prepare_stores(self.workspace)  # before any node: nodes must never migrate a store at once
        except TesseraError as exc:
            self.runs.finish_orphan(run_id, "failed", str(exc))
            raise
        driver = _Driver(self, record, spec, options, on_change)  # loops unrolled into node instances
        finished = driver.drive()
        if resumed:  # a node of the cut-off attempt may have opened its MLflow run after resume closed them
            _close_cut_off_tracking(self.workspace, run_id)
        if finished.status == "failed":
            _alert_failed(self.workspace, finished)
        return finished

    def prune_cache(self, days: float) -> tuple[int, int]:
        """Delete cached outputs that no run of the last `days` days (or still running) uses."""
        horizon = days * 86400
        return self.cache.prune(self.runs.fingerprints_since(time.time() - horizon), horizon)

    def _start_driver(self, run_id: str) -> None:
        log = self.workspace.state_dir / "runs" / run_id / "driver.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as handle:
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipelines.local_runner",
                    str(self.workspace.root),
                    run_id,
                    str(self.store.root),
                ],
                stdout=handle,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )


class _Driver:
    """The scheduling loop of one run."""

    def __init__(
        self,
        runner: LocalRunner,
        record: RunRecord,
        spec: WorkflowSpec,
        options: RunOptions,
        on_change: OnChange | None,
    ):
        self.runner, self.workflow, self.options, self.on_change = runner, spec, options, on_change
        self.loop_limits = {loop_id: loop.parallelism for loop_id, loop in spec.loops.items()}
        self.run_id = record.id
        self.params = record.params
        self.status = {n.node_id: n.status for n in record.nodes}
        self.outputs = {n.node_id: n.outputs for n in record.nodes if n.status in DONE_NODE_STATES}
        self.fingerprints = {n.node_id: n.fingerprint for n in record.nodes if n.status in DONE_NODE_STATES}
        self.attempts = {n.node_id: n.attempts for n in record.nodes}
        self.running: dict[str, _Running] = {}
        self.calls: dict[str, ExecutorCall] = {}
        self._unroll()
        self.exit_released = False  # the exit node starts once everything else is final
        self.exit_status = ""  # what the exit node is told about the run (TESSERA_RUN_STATUS)
        self.max_parallel = options.max_parallel or os.cpu_count() or 1
        self.log_dir = runner.workspace.state_dir / "runs" / record.id
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def _unroll(self) -> None:
        """The node instances to run: loops unrolled for the run's parameters and the outputs known so far.
        A loop over an upstream output unrolls once that node is done; the run's node rows follow."""
        expansion = expand_loops(self.workflow, self.params, self.outputs)
        self.spec, self.loop_of, self.waiting = expansion.spec, expansion.loop_of_instance, expansion.waiting
        self.collected = expansion.collected
        self.order = self.spec.topological_order()
        if set(self.order) != set(self.status):
            self.runner.runs.replace_nodes(self.run_id, self.order)
            self.status = {node_id: self.status.get(node_id, "pending") for node_id in self.order}
            self.attempts = {node_id: self.attempts.get(node_id, 0) for node_id in self.order}
            self._changed()

    def drive(self) -> RunRecord:
        runs = self.runner.runs
        self._changed()
        next_cancel_check = 0.0
        try:
            while True:
                if self._exit_due():
                    self._schedule_exit()
                if time.monotonic() >= next_cancel_check:
                    if runs.cancel_requested(self.run_id):
                        raise RunCancelled
                    next_cancel_check = time.monotonic() + _CANCEL_CHECK_SECONDS
                progressed = self._schedule() | self._reap()
                if not self.running and not any(s == "pending" for s in self.status.values()):
                    break
                if not progressed:
                    sentinels = [r.process.sentinel for r in self.running.values() if hasattr(r.process, "sentinel")]
                    if sentinels:
                        wait_for_sentinels(sentinels, timeout=0.1)
                    else:
                        time.sleep(0.05)
        except (KeyboardInterrupt, RunCancelled):
            self._cancel_everything()
            self._run_exit_node("cancelled")
            runs.finish(self.run_id, "cancelled", "cancelled")
            return self._changed()
        except Exception as exc:
            self._cancel_everything()
            runs.finish(self.run_id, "failed", f"the runner stopped: {exc}")
            self._changed()
            raise
        failed = [n for n, s in self.status.items() if s == "failed"]
        runs.finish(
            self.run_id,
            "failed" if failed else "succeeded",
            f"node {', '.join(repr(n) for n in failed)} failed" if failed else "",
        )
        return self._changed()

    def _changed(self) -> RunRecord:
        record = self.runner.runs.get(self.run_id)
        if self.on_change:
            self.on_change(record)
        return record

    def _set(self, node_id: str, **fields: Any) -> None:
        if "status" in fields:
            self.status[node_id] = fields["status"]
        self.runner.runs.update_node(self.run_id, node_id, **fields)
        self._changed()

    def _exit_due(self) -> bool:
        """The exit node waits until every other node is final, then runs whatever happened."""
        exit_node = self.spec.on_exit
        return bool(
            exit_node
            and self.status.get(exit_node) == "pending"
            and not self.running
            and all(s not in ("pending", "running") for n, s in self.status.items() if n != exit_node)
        )

    def _schedule_exit(self) -> None:
        self.exit_status = "failed" if any(s == "failed" for s in self.status.values()) else "succeeded"
        self.exit_released = True

    def _run_exit_node(self, run_status: str) -> None:
        """After a cancellation: the exit node still runs, in this process, before the run is closed."""
        exit_node = self.spec.on_exit
        if not exit_node or self.status.get(exit_node) not in ("pending", "cancelled"):
            return
        self.status[exit_node] = "pending"
        self.exit_status, self.exit_released = run_status, True
        self._schedule()
        while self.running:
            self._reap()
            time.sleep(0.05)

    def _schedule(self) -> bool:
        progressed = False
        for node_id in self.order:
            if self.status[node_id] != "pending":
                continue
            if node_id == self.spec.on_exit and not self.exit_released:
                continue
            node = self.spec.node(node_id)
            upstream = node.upstream() & self.status.keys()  # an instance's condition names base nodes too
            if any(self.status[u] in {"failed", "skipped", "cancelled"} for u in upstream):
                self._set(node_id, status="skipped", message="an upstream node did not finish")
                progressed = True
                continue
            if not all(self.status[u] in DONE_NODE_STATES | {"not_run"} for u in upstream):
                continue
            reason = self._not_run_reason(node)
            if reason:
                self._set(node_id, status="not_run", message=reason, ended_at=time.time())
                progressed = True
                continue
            fingerprint, params, inputs, component = self._resolve(node)
            use_cache = node.cache and not self.options.no_cache and node_id != self.spec.on_exit  # it always runs
            cached = self.runner.cache.lookup(fingerprint) if use_cache else None
            if cached is not None:
                self.outputs[node_id], self.fingerprints[node_id] = cached, fingerprint
                now = time.time()
                self._set(
                    node_id, status="cached", fingerprint=fingerprint, outputs=cached, started_at=now, ended_at=now
                )
                if node_id in self.waiting:  # a loop runs over its output: unroll it, then schedule afresh
                    self._unroll()
                    return True
                progressed = True
                continue
            if len(self.running) >= self.max_parallel or self._loop_full(node_id):
                continue
            self._start(node, fingerprint, params, inputs, component, replace=not use_cache)
            progressed = True
        return progressed

    def _loop_full(self, node_id: str) -> bool:
        """Whether the node's loop already runs as many iterations as its `parallelism` allows."""
        loop_id = self.loop_of.get(node_id)
        limit = self.loop_limits.get(loop_id, 0) if loop_id else 0
        return bool(limit) and sum(self.loop_of.get(r) == loop_id for r in self.running) >= limit

    def _not_run_reason(self, node: Node) -> str:
        """Why a node whose upstream nodes are done does not run (KFP's semantics for dsl.If), or ''."""
        quiet = sorted(u for u in node.upstream() & self.status.keys() if self.status[u] == "not_run")
        if quiet:
            return f"not run: upstream '{quiet[0]}' did not run"
        label = iteration_label(node.id)

        def value(reference: Reference) -> Any:
            if reference.source == "params":
                return self.params[reference.name]
            same_iteration = instance_id(reference.source, label) if label is not None else ""
            source = same_iteration if same_iteration in self.outputs else reference.source
            return self.outputs[source][reference.name]["value"]

        if node.when and not evaluate(node.when, value):
            return f"not run: its condition {node.when} is false"
        return ""

    def _resolve(self, node: Node) -> tuple[str, dict[str, Any], dict[str, Any], Any]:
        name, version = parse_ref(node.component)
        component = self.runner.store.get(name, version or "")
        params = {}
        for key, value in node.params.items():
            reference = param_reference(value)
            params[key] = self.params[reference] if reference else value
        inputs: dict[str, Any] = {}
        input_keys: dict[str, str] = {}
        for input_name, binding in node.bindings().items():
            assert binding is not None
            inputs[input_name] = self.outputs[binding.node][binding.output]
            input_keys[input_name] = f"{self.fingerprints[binding.node]}/{binding.output}"
        for input_name, texts in self.collected.get(node.id, {}).items():  # a list input: every iteration's
            parts = [(text.rpartition(".")[0], text.rpartition(".")[2]) for text in texts]
            inputs[input_name] = [self.outputs[source][output] for source, output in parts]
            input_keys[input_name] = ",".join(f"{self.fingerprints[source]}/{output}" for source, output in parts)
        fingerprint = node_fingerprint(component.digest, params, input_keys, self.options.sample)
        return fingerprint, params, inputs, component

    def _start(
        self,
        node: Node,
        fingerprint: str,
        params: dict[str, Any],
        inputs: dict[str, dict[str, Any]],
        component: Any,
        replace: bool,
    ) -> None:
        if component.ref not in self.calls:
            self.calls[component.ref] = read_executor_call(
                self.runner.store.component_yaml(component.name, component.version)
            )
        call = self.calls[component.ref]
        if node.id == self.spec.on_exit and component.final_status:
            params = params | {component.final_status: self._final_status(node.id)}
        partial = self.runner.cache.new_partial(fingerprint)
        log_path = self.log_dir / f"{node.id}.log"
        self.attempts[node.id] += 1
        with open(log_path, "a") as log:
            log.write(
                f"=== {node.id} ({component.ref}) attempt {self.attempts[node.id]} at {datetime.now():%H:%M:%S}\n"
            )
            if node.resources and node.resources.gpu and not shutil.which("nvidia-smi"):
                log.write(f"note: {node.resources.gpu} GPU requested, but this machine has none: running on CPU\n")
        env: dict[str, str | None] = {
            **self.runner.workspace.component_environment(),
            "TESSERA_SAMPLE_ROWS": str(self.options.sample) if self.options.sample else None,
            "TESSERA_RUN_ID": self.run_id,
            "TESSERA_RUN_STATUS": self.exit_status if node.id == self.spec.on_exit else None,
            "TESSERA_NODE": node.id,
            "TESSERA_COMPONENT": component.ref,
            "TESSERA_WORKFLOW": f"{self.spec.project}/{self.spec.name}",
            "TESSERA_WORKSPACE": str(self.runner.workspace.root),
            "TESSERA_PARAMS_DIGEST": hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()[:16],
        }
        process = start_node(
            call,
            executor_input(call, params, inputs, partial),
            partial / "_work",
            log_path,
            env,
            self.options.isolation,
        )
        self.running[node.id] = _Running(process, partial, fingerprint, call, replace)
        self._set(
            node.id,
            status="running",
            fingerprint=fingerprint,
            started_at=time.time(),
            ended_at=None,
            log_path=str(log_path),
            attempts=self.attempts[node.id],
            exit_code=None,
            message="",
            pid=process.pid,
        )

    def _final_status(self, exit_node: str) -> dict[str, Any]:
        """The run's outcome as KFP hands it to an exit task's `dsl.PipelineTaskFinalStatus` parameter."""
        state = {"succeeded": "SUCCEEDED", "failed": "FAILED", "cancelled": "CANCELED"}.get(self.exit_status, "")
        failed = [n for n, s in self.status.items() if s == "failed"]
        message = f"node '{failed[0]}' failed" if failed else ("cancelled" if state == "CANCELED" else "")
        return {
            "state": state,
            "pipelineJobResourceName": self.run_id,
            "pipelineTaskName": exit_node,
            "error": {"code": 1 if message else 0, "message": message},
        }

    def _reap(self) -> bool:
        progressed = False
        for node_id, running in list(self.running.items()):
            code = running.process.poll()
            if code is None:
                continue
            del self.running[node_id]
            progressed = True
            if code == 0:
                shutil.rmtree(running.partial / "_work", ignore_errors=True)
                manifest = {
                    "node": node_id,
                    "run_id": self.run_id,
                    "outputs": read_outputs(running.call, running.partial),
                    "replace": running.replace,
                }
                outputs = self.runner.cache.commit(running.partial, running.fingerprint, manifest)
                self.outputs[node_id], self.fingerprints[node_id] = outputs, running.fingerprint
                self._set(node_id, status="succeeded", exit_code=0, ended_at=time.time(), outputs=outputs)
                if node_id in self.waiting:
                    self._unroll()
            else:
                self.runner.cache.discard(running.partial)
                self._set(
                    node_id,
                    status="failed",
                    exit_code=code,
                    ended_at=time.time(),
                    message=_failure_message(code, self.log_dir / f"{node_id}.log"),
                )
        return progressed

    def _cancel_everything(self) -> None:
        for node_id, running in list(self.running.items()):
            running.process.kill()
            self.runner.cache.discard(running.partial)
            self.runner.runs.update_node(
                self.run_id, node_id, status="cancelled", ended_at=time.time(), message="cancelled"
            )
            self.status[node_id] = "cancelled"
        self.running.clear()
        for node_id, state in self.status.items():
            if state == "pending":
                self.runner.runs.update_node(self.run_id, node_id, status="cancelled")
                self.status[node_id] = "cancelled"


def _stop_leftover_nodes(record: RunRecord) -> None:
    """Node processes of a killed driver die with it, but not in the same instant: wait for them (then kill
    them) before resuming, so an old attempt never writes beside the new one."""
    import psutil

    leftovers = []
    for node in record.nodes:
        if not node.pid or node.status in DONE_NODE_STATES:
            continue
        try:
            process = psutil.Process(node.pid)
            if node.started_at and abs(process.create_time() - node.started_at) > 10:
                continue  # the pid was reused by something else
        except psutil.Error:
            continue
        leftovers.append(process)
    _, alive = psutil.wait_procs(leftovers, timeout=10)
    for process in alive:
        process.kill()
    psutil.wait_procs(alive, timeout=5)


def _close_cut_off_tracking(workspace: Workspace, run_id: str) -> None:
    """MLflow runs of `run_id` still RUNNING were cut off (the driver or a node was killed): mark them KILLED,
    so the tracking UI and the plain MlflowClient do not show them running forever beside the resumed ones.
    Until a driver has prepared the stores no node ran, so nothing was tracked: the store is left alone
    (opening it here would migrate it beside that driver)."""
    if not stores_ready(workspace):
        return
    from mlflow import MlflowClient

    from serving.model_registry import tracking_at

    with tracking_at(workspace.tracking_uri()):
        client = MlflowClient(workspace.tracking_uri())
        experiments = [e.experiment_id for e in client.search_experiments(max_results=1000)]
        if not experiments:
            return
        cut_off = client.search_runs(
            experiments, f"tags.`tessera.run_id` = '{run_id}' and attributes.status = 'RUNNING'", max_results=1000
        )
        for tracked in cut_off:
            client.set_terminated(tracked.info.run_id, "KILLED")


def _alert_failed(workspace: Workspace, record: RunRecord) -> None:
    from tessera.alerts import Alert, send_alert

    failed = [n.node_id for n in record.nodes if n.status == "failed"]
    send_alert(workspace, Alert(
        "run_failed", f"run {record.id} of {record.workflow} failed", record.message,
        {"run_id": record.id, "workflow": record.workflow, "failed_nodes": ", ".join(failed)},
    ))  # fmt: skip


def _failure_message(code: int, log_path: Path) -> str:
    if code < 0:
        return f"killed by signal {-code}"
    lines = (
        [line.strip() for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
        if log_path.exists()
        else []
    )
    errors = [line for line in lines if "Error" in line.split(":")[0] or "Exception" in line.split(":")[0]]
    return (errors or lines or [f"exit code {code}"])[-1][:500]


def _main(argv: list[str]) -> None:
    """`python -m pipelines.local_runner WORKSPACE RUN_ID STORE`: the detached driver of a submitted run."""
    from tessera.workspace import load_workspace

    workspace = load_workspace(Path(argv[0]))
    LocalRunner(workspace, workspace_store(workspace, builtin_root=Path(argv[2]))).execute(argv[1])


if __name__ == "__main__":
    _main(sys.argv[1:])
