"""Run workflows on Kubeflow Pipelines v2, behind the same runner protocol as the local runner.

The workflow is compiled to KFP IR (every task in the workspace's `runtime_image`) and
submitted with `kfp.Client` into an experiment named after the project, in the
workspace's namespace (one per project or team, as Kubeflow profiles have it). Each run
is also recorded in `.tessera/runs.db` with backend `kubeflow`, the KFP run id and the
link to the Kubeflow UI, so `tessera runs …` and the studio list it with local runs;
`status` reads the run from KFP and maps its states onto Tessera's.

    # tessera.yaml
    kubeflow:
      host: https://kubeflow.example.com/pipeline
      namespace: risk-team
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from component_store.runtime.tables import SAMPLE_ROWS_ENV
from component_store.store import ComponentStore
from pipelines.compiler import compile_to_yaml
from pipelines.loops import iterations_state
from pipelines.runner import RunOptions, record_run, validated_params
from pipelines.runs import FINAL_RUN_STATES, RunRecord, RunStore, new_run_id
from pipelines.spec import WorkflowSpec
from pipelines.validation import check_approved
from tessera.errors import OperationFailed, TesseraError, WorkspaceError
from tessera.workspace import PREDICTION_LOG_ENV, KubeflowSettings, Workspace

# KFP's V2beta1RuntimeState → Tessera's run and node states.
KFP_RUN_STATES = {
    "RUNTIME_STATE_UNSPECIFIED": "queued",
    "PENDING": "queued",
    "RUNNING": "running",
    "PAUSED": "running",
    "CANCELING": "running",
    "SUCCEEDED": "succeeded",
    "SKIPPED": "succeeded",
    "FAILED": "failed",
    "CANCELED": "cancelled",
}
KFP_NODE_STATES = {
    "RUNTIME_STATE_UNSPECIFIED": "pending",
    "PENDING": "pending",
    "RUNNING": "running",
    "PAUSED": "running",
    "CANCELING": "running",
    "SUCCEEDED": "succeeded",
    "CACHED": "cached",
    "SKIPPED": "not_run",  # a task under a false dsl.If (tasks after a failure are never created: see finish_orphan)
    "FAILED": "failed",
    "CANCELED": "cancelled",
}
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubeflow/pipelines/token")


class KubeflowError(OperationFailed):
    """Kubeflow Pipelines refused a request or could not be reached."""


def kubeflow_settings(workspace: Workspace) -> KubeflowSettings:
    """The workspace's `kubeflow:` settings, or an error that shows how to add them."""
    if workspace.config.kubeflow is None:
        raise WorkspaceError(
            f"Workspace '{workspace.config.name}' has no Kubeflow endpoint; add to {workspace.root / 'tessera.yaml'}:\n"
            "kubeflow:\n  host: https://kubeflow.example.com/pipeline\n  namespace: your-team"
        )
    return workspace.config.kubeflow


def kubeflow_client(settings: KubeflowSettings) -> Any:
    """A `kfp.Client` for the settings: a bearer token from `token_env`, else a pod's service-account token."""
    import kfp

    token = os.environ.get(settings.token_env) if settings.token_env else None
    credentials = None
    if not token and SERVICE_ACCOUNT_TOKEN.exists():
        from kfp.client.set_volume_credentials import ServiceAccountTokenVolumeCredentials

        credentials = ServiceAccountTokenVolumeCredentials(path=str(SERVICE_ACCOUNT_TOKEN))
    return kfp.Client(
        host=settings.host,
        namespace=settings.namespace,
        existing_token=token,
        credentials=credentials,
        ui_host=settings.ui_host or None,
    )


def task_environment(workspace: Workspace, run_id: str, sample: int = 0) -> dict[str, str]:
    """What every task of a Kubeflow run gets, as the local runner gives it to node processes.

    Raises:
        KubeflowError: when the workspace tracks to a file, which a pod cannot reach.
    """
    uri = workspace.config.tracking_uri
    if uri.startswith(("sqlite:", "file:")) or "://" not in uri:
        raise KubeflowError(
            f"tracking_uri '{uri}' is a file on this machine, which Kubeflow's pods cannot reach; set tracking_uri "
            "in tessera.yaml to the MLflow server (e.g. http://tessera-mlflow:5000, see docs/deploy.md)"
        )
    environment = {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "TESSERA_RUN_ID": run_id,
    }
    if sample:
        environment[SAMPLE_ROWS_ENV] = str(sample)
    if workspace.config.kubeflow is not None:  # what a Spark step with a k8s:// master starts executors from
        environment["TESSERA_RUNTIME_IMAGE"] = workspace.config.runtime_image
        environment["TESSERA_NAMESPACE"] = workspace.config.kubeflow.namespace
        if workspace.config.kubeflow.service_account:
            environment["TESSERA_SPARK_SERVICE_ACCOUNT"] = workspace.config.kubeflow.service_account
    if workspace.config.prediction_log:  # where monitor_endpoint reads KServe endpoints' logs
        environment[PREDICTION_LOG_ENV] = workspace.config.prediction_log
    return environment


@contextlib.contextmanager
def pipeline_package(
    workspace: Workspace, store: ComponentStore, spec: WorkflowSpec, environment: dict[str, str]
) -> Iterator[str]:
    """The workflow compiled for Kubeflow (the runtime image, the task environment), as a file for kfp.Client."""
    pipeline = compile_to_yaml(spec, store, runtime_image=workspace.config.runtime_image, environment=environment)
    with tempfile.TemporaryDirectory() as tmp:
        package = Path(tmp) / f"{spec.name}.yaml"
        package.write_text(pipeline)
        yield str(package)


def project_experiment(client: Any, project: str, namespace: str) -> Any:
    """The project's experiment in the namespace (kfp's create_experiment returns the existing one)."""
    return client.create_experiment(name=project, namespace=namespace)


def run_link(settings: KubeflowSettings, kfp_run_id: str) -> str:
    return f"{(settings.ui_host or settings.host).rstrip('/')}/#/runs/details/{kfp_run_id}"


@contextlib.contextmanager
def talking_to_kubeflow(what: str) -> Any:
    """Turn the KFP client's exceptions into a KubeflowError that says what was being done."""
    try:
        yield
    except TesseraError:
        raise
    except Exception as exc:  # kfp_server_api.ApiException, urllib3 errors, ValueError from kfp.Client
        status = getattr(exc, "status", None)
        reason = getattr(exc, "reason", None) or str(exc).splitlines()[0]
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            reason = json.loads(exc.body)["message"] or reason  # type: ignore[attr-defined]
        hint = {401: "; check the token", 403: "; check that your account may use this namespace"}.get(status or 0, "")
        raise KubeflowError(f"Kubeflow refused to {what}: {status or ''} {reason}{hint}".replace("  ", " ")) from exc


class KubeflowRunner:
    """The runner protocol (`pipelines.runner`) on Kubeflow Pipelines.

    Example:
        >>> runner = KubeflowRunner(workspace, ComponentStore())  # doctest: +SKIP
        >>> record = runner.submit(spec, {"test_size": 0.3}, RunOptions())  # doctest: +SKIP
        >>> record.options["kubeflow_url"]  # doctest: +SKIP
        'https://kubeflow.example.com/pipeline/#/runs/details/…'
    """

    backend = "kubeflow"

    def __init__(self, workspace: Workspace, store: ComponentStore, client: Any = None):
        self.workspace = workspace
        self.store = store
        self.settings = kubeflow_settings(workspace)
        self.client = client or kubeflow_client(self.settings)
        self.runs = RunStore(workspace.state_dir / "runs.db")
        self.poll_seconds = 5.0  # how often `wait` (and `status`, at most) reads a run from KFP
        self._read_at: dict[str, float] = {}

    def submit(self, spec: WorkflowSpec, params: dict[str, Any], options: RunOptions = RunOptions()) -> RunRecord:
        """Compile, create the run in the project's experiment, record it; returns at once (queued)."""
        values = validated_params(spec, params, self.store)
        check_approved(spec, self.store, self.workspace.config.allow_unapproved, "a Kubeflow run")
        run_id = new_run_id()
        environment = task_environment(self.workspace, run_id, options.sample)
        with (
            talking_to_kubeflow(f"create a run of '{spec.project}/{spec.name}'"),
            pipeline_package(self.workspace, self.store, spec, environment) as package,
            contextlib.redirect_stdout(io.StringIO()),  # kfp prints its links itself
        ):
            experiment = project_experiment(self.client, spec.project, self.settings.namespace)
            created = self.client.run_pipeline(
                experiment_id=experiment.experiment_id,
                job_name=f"{spec.name} {run_id}",
                pipeline_package_path=package,
                params=values,
                enable_caching=False if options.no_cache else None,
                service_account=self.settings.service_account or None,
                pipeline_root=self.settings.pipeline_root or None,
            )
        recorded_options = asdict(options) | {
            "kubeflow_run_id": created.run_id,
            "kubeflow_url": run_link(self.settings, created.run_id),
            "experiment_id": experiment.experiment_id,
            "namespace": self.settings.namespace,
        }
        return record_run(self.runs, run_id, spec, values, self.backend, recorded_options)

    def status(self, run_id: str) -> RunRecord:
        """The record, brought up to date from KFP while the run is not final (at most every `poll_seconds`)."""
        record = self.runs.get(run_id)
        if (
            record.status in FINAL_RUN_STATES
            or time.monotonic() - self._read_at.get(record.id, -1e9) < self.poll_seconds
        ):
            return record
        self._read_at[record.id] = time.monotonic()
        with talking_to_kubeflow(f"read run {record.id}"):
            run = self.client.get_run(record.options["kubeflow_run_id"])
        self._record_kfp_state(record, run)
        return self.runs.get(record.id)

    def wait(self, run_id: str, timeout: float = 3600) -> RunRecord:
        deadline = time.monotonic() + timeout
        while True:
            record = self.status(run_id)
            if record.status in FINAL_RUN_STATES or time.monotonic() + self.poll_seconds > deadline:
                return record
            time.sleep(self.poll_seconds)

    def logs(self, run_id: str, node_id: str) -> str:
        """Where the node's log is: the Kubeflow UI's run page (and its pod, once KFP names it)."""
        record = self.runs.get(run_id)
        node = record.node(node_id)
        pod = f" (pod {node.message})" if node.message.startswith(f"{record.options['namespace']}/") else ""
        return (
            f"Node '{node_id}' ran on Kubeflow{pod}; its log is in the run's page: {record.options['kubeflow_url']}\n"
        )

    def cancel(self, run_id: str) -> RunRecord:
        """Terminate the KFP run and mark the record cancelled (a finished run is left as it is)."""
        record = self.status(run_id)
        if record.status in FINAL_RUN_STATES:
            return record
        with talking_to_kubeflow(f"terminate run {record.id}"):
            self.client.terminate_run(record.options["kubeflow_run_id"])
        self.runs.finish_orphan(record.id, "cancelled", "terminated on Kubeflow")
        return self.runs.get(record.id)

    def _record_kfp_state(self, record: RunRecord, run: Any) -> None:
        tasks: dict[str, list[Any]] = {}  # a loop node has a task per iteration, all with its name
        for task in getattr(run.run_details, "task_details", None) or []:
            tasks.setdefault(task.display_name, []).append(task)
        for node in record.nodes:
            if node.node_id in tasks:
                self.runs.update_node(record.id, node.node_id, **_node_fields(tasks[node.node_id], record))
        state = KFP_RUN_STATES.get(str(run.state), "queued")
        if state in FINAL_RUN_STATES:
            message = run.error.message if run.error and run.error.message else ""
            if state == "succeeded":
                for node in record.nodes:  # tasks under a false dsl.If are never created
                    if node.node_id not in tasks and node.status == "pending":
                        self.runs.update_node(record.id, node.node_id, status="not_run", message="not run: condition")
                self.runs.finish(record.id, state, message)
            else:  # nodes KFP never reached are skipped (failed) or cancelled
                self.runs.finish_orphan(record.id, state, message or f"{state} on Kubeflow")
        elif state == "running":
            self.runs.mark_remote_running(record.id)


def _node_fields(tasks: list[Any], record: RunRecord) -> dict[str, Any]:
    """A node's state from its KFP tasks (one, or one per loop iteration: then the iterations rolled up,
    as the local runner's canvas shows a loop node)."""
    states = [KFP_NODE_STATES.get(str(task.state), "pending") for task in tasks]
    fields: dict[str, Any] = {"status": iterations_state(states)}
    starts = [task.start_time.timestamp() for task in tasks if task.start_time]
    ends = [task.end_time.timestamp() for task in tasks if task.end_time]
    if starts:
        fields["started_at"] = min(starts)
    if ends and len(ends) == len(tasks):
        fields["ended_at"] = max(ends)
    if len(tasks) > 1:
        fields["message"] = f"{len(tasks)} iterations"
    elif getattr(tasks[0], "pod_name", None):
        fields["message"] = f"{record.options['namespace']}/{tasks[0].pod_name}"
    failed = [task.error.message for task in tasks if task.error and task.error.message]
    if failed:
        fields["message"] = (
            failed[0] if len(tasks) == 1 else f"{len(failed)} of {len(tasks)} iterations failed: {failed[0]}"
        )
    return fields
