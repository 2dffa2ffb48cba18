"""Monitors that act: each `monitors:` entry of tessera.yaml is checked on its schedule; drift alerts
and starts the monitor's retraining workflow once per drift episode.

An episode begins at the first check that finds dataset drift and ends at the first check that does
not; within it nothing is started or sent again, so a drifting endpoint never causes a storm of runs.
Episodes are decided by `serving.monitoring.drift_episode` (a tag in MLflow, which a cluster's pods
share); the history of checks is kept in `.tessera/monitors.json`, written whole.

Locally `tessera up` (or `tessera monitor check`) checks monitors. On Kubeflow, `tessera monitor
schedule` makes each monitor a recurring run of `monitor_workflow`: the `monitor_endpoint` step, then
the retraining workflow's steps under `when: monitor.new_episode == true`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from component_store.store import ComponentStore
from pipelines.spec import WorkflowSpec
from tessera.alerts import Alert, send_alert
from tessera.errors import TesseraError
from tessera.workspace import MonitorConfig, Workspace, write_atomically

log = logging.getLogger("tessera.monitors")
HISTORY = 200


@dataclass
class MonitorState:
    last_checked: float = 0.0
    drifting: bool = False
    episode_started: float | None = None
    retrain_run: str | None = None


@dataclass(frozen=True)
class CheckOutcome:
    endpoint: str
    at: float
    status: str  # drift, no_drift, no_data, error
    message: str = ""
    drift_share: float | None = None
    new_episode: bool = False
    retrain_run: str | None = None
    alerted: tuple[str, ...] = field(default_factory=tuple)


class MonitorBook:
    """The monitors' state file: episodes per endpoint and the history of checks."""

    def __init__(self, workspace: Workspace):
        self.path = workspace.state_dir / "monitors.json"
        raw = json.loads(self.path.read_text()) if self.path.exists() else {}
        self.states = {name: MonitorState(**value) for name, value in raw.get("states", {}).items()}
        self.history: list[dict[str, Any]] = raw.get("history", [])

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {"states": {k: asdict(v) for k, v in self.states.items()}, "history": self.history[-HISTORY:]}
        write_atomically(self.path, json.dumps(document, indent=1, default=str))


def check_monitors(
    workspace: Workspace, store: ComponentStore, now: float | None = None, force: bool = False
) -> list[CheckOutcome]:
    """Check every monitor that is due (all of them with `force`); returns what each check found and did."""
    from serving.monitoring import parse_window

    now = time.time() if now is None else now
    book = MonitorBook(workspace)
    outcomes = []
    for monitor in workspace.config.monitors:
        state = book.states.setdefault(monitor.endpoint, MonitorState())
        if not force and now - state.last_checked < parse_window(monitor.every):
            continue
        outcome = _check(workspace, store, monitor, state, now)
        state.last_checked = now
        book.history.append(asdict(outcome))
        outcomes.append(outcome)
    book.save()
    return outcomes


def _check(
    workspace: Workspace, store: ComponentStore, monitor: MonitorConfig, state: MonitorState, now: float
) -> CheckOutcome:
    from serving.monitoring import MonitorError, drift_episode, monitor_report, parse_window

    try:
        report = monitor_report(workspace, monitor.endpoint, parse_window(monitor.window), monitor.drift_share, now)
    except MonitorError as exc:
        return CheckOutcome(monitor.endpoint, now, "no_data", str(exc))
    except TesseraError as exc:
        return CheckOutcome(monitor.endpoint, now, "error", str(exc))
    share = float(report["drift_share"])
    model_name = str(report["model_version"]).rsplit("/", 1)[0]
    new_episode = drift_episode(workspace.tracking_uri(), model_name, monitor.endpoint, report["dataset_drift"], now)
    if not report["dataset_drift"]:
        state.drifting, state.episode_started, state.retrain_run = False, None, None
        return CheckOutcome(monitor.endpoint, now, "no_drift", drift_share=share)
    if not new_episode:  # the same episode: nothing new to start or tell
        state.drifting = True
        return CheckOutcome(monitor.endpoint, now, "drift", "drift continues", share, retrain_run=state.retrain_run)
    state.drifting, state.episode_started = True, now
    drifted = [c["name"] for c in report["columns"] if c["drifted"]]
    message = f"{len(drifted)} of {len(report['columns'])} columns drifted: {', '.join(drifted[:8])}"
    run_id = None
    if monitor.on_drift is not None:
        try:
            run_id = _start_retrain(workspace, store, monitor)
            message += f"; started {monitor.on_drift.run} as run {run_id}"
        except TesseraError as exc:
            message += f"; could not start {monitor.on_drift.run}: {exc}"
    state.retrain_run = run_id
    alert = Alert(
        "drift", f"{monitor.endpoint}: its data drifted ({share:.0%} of columns)", message,
        {"endpoint": monitor.endpoint, "model_version": report["model_version"], "drift_share": share,
         "rows": report["window"]["rows"], "retrain_run": run_id},
    )  # fmt: skip
    alerted = send_alert(workspace, alert)
    return CheckOutcome(monitor.endpoint, now, "drift", message, share, True, run_id, tuple(alerted))


def _start_retrain(workspace: Workspace, store: ComponentStore, monitor: MonitorConfig) -> str:
    from pipelines.local_runner import LocalRunner
    from pipelines.workflow_io import load_workflow

    assert monitor.on_drift is not None
    spec = load_workflow(workspace.find_workflow(monitor.on_drift.run), store)
    return LocalRunner(workspace, store).submit(spec, dict(monitor.on_drift.params)).id


MONITOR_NODE = "monitor"


def monitor_workflow(workspace: Workspace, store: ComponentStore, monitor: MonitorConfig) -> WorkflowSpec:
    """The workflow of a monitor's recurring run on Kubeflow: `monitor_endpoint`, then (with `on_drift`) the
    retraining workflow's steps, its first steps under `when: monitor.new_episode == true` (the rest
    follow them or are not run). The retraining's `on_exit` is left out: it would run at every check.

    Raises:
        TesseraError: the endpoint is unknown here, or the retraining workflow has a step named `monitor`.
    """
    from pipelines.spec import Node, WorkflowParam
    from pipelines.workflow_io import load_workflow
    from serving.targets import local_target

    registry = local_target(workspace).registry
    if not registry.exists(monitor.endpoint):
        raise TesseraError(
            f"monitor of '{monitor.endpoint}': no such endpoint in this workspace; deploy it first "
            f"(`tessera endpoint deploy {monitor.endpoint} … --target kserve`) so the monitor knows its model"
        )
    served = registry.get(monitor.endpoint).served
    model_name = served[0].model_name if served else registry.get(monitor.endpoint).request.model.split("@")[0]
    check = Node(
        id=MONITOR_NODE, component=f"monitor_endpoint@{store.latest('monitor_endpoint').version}",
        params={"endpoint": monitor.endpoint, "since": monitor.window, "drift_share": monitor.drift_share,
                "model_name": model_name.split("/")[0]},
    )  # fmt: skip
    name = f"monitor-{monitor.endpoint}"
    if monitor.on_drift is None:
        return WorkflowSpec(name=name, project="monitors", nodes=(check,))
    retrain = load_workflow(workspace.find_workflow(monitor.on_drift.run), store)
    if MONITOR_NODE in retrain.node_ids():
        raise TesseraError(
            f"{monitor.on_drift.run} has a step named '{MONITOR_NODE}', which the monitor's own step needs; rename it"
        )
    gate = f"{MONITOR_NODE}.new_episode == true"
    nodes = [check]
    for node in retrain.nodes:
        if node.id == retrain.on_exit:
            continue
        if not (node.upstream() & set(retrain.node_ids())):
            node = node.model_copy(update={"when": f"{gate} and {node.when}" if node.when else gate})
        nodes.append(node)
    params = {
        key: WorkflowParam(type=param.type, default=monitor.on_drift.params.get(key, param.default),
                           description=param.description)
        for key, param in retrain.params.items()
    }  # fmt: skip
    return WorkflowSpec(name=name, project=retrain.project, params=params, nodes=tuple(nodes))


def every_as_cron(every: str) -> str:
    """A monitor's `every` (30m, 1h, 6h, 1d) as a five-field cron expression.

    Example:
        >>> every_as_cron("15m"), every_as_cron("6h"), every_as_cron("1d")
        ('*/15 * * * *', '0 */6 * * *', '0 0 */1 * *')
    """
    from serving.monitoring import parse_window

    seconds = int(parse_window(every))
    if seconds < 3600 and seconds % 60 == 0 and 3600 % seconds == 0:
        return f"*/{seconds // 60} * * * *"
    if seconds < 86400 and seconds % 3600 == 0 and 86400 % seconds == 0:
        return f"0 */{seconds // 3600} * * *"
    if seconds % 86400 == 0 and seconds // 86400 <= 31:
        return f"0 0 */{seconds // 86400} * *"
    raise TesseraError(
        f"every: {every} cannot be a cron schedule on Kubeflow; use minutes that divide an hour (15m, 30m), "
        "hours that divide a day (1h, 6h) or whole days (1d)"
    )


def schedule_monitors(workspace: Workspace, store: ComponentStore, client: Any = None) -> list[Any]:
    """Each monitor of tessera.yaml as a recurring run on the workspace's Kubeflow (`monitor/ENDPOINT`);
    one that exists is replaced, so a changed monitor takes effect. Returns the schedules made."""
    from pipelines.schedules import Schedules

    schedules = Schedules(workspace, store, client)
    existing = {schedule.name for schedule in schedules.list()}
    made = []
    for monitor in workspace.config.monitors:
        spec = monitor_workflow(workspace, store, monitor)
        cron = every_as_cron(monitor.every)
        name = f"monitor/{monitor.endpoint}"
        if name in existing:
            schedules.delete(name)
        made.append(schedules.create(spec, cron, {}, name=name))
    return made
