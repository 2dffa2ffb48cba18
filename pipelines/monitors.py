"""Monitors that act: each `monitors:` entry of tessera.yaml is checked on its schedule; drift alerts
and starts the monitor's retraining workflow once per drift episode.

An episode begins at the first check that finds dataset drift and ends at the first check that does
not; within it nothing is started or sent again, so a drifting endpoint never causes a storm of runs.
State (episodes and the last checks) is kept in `.tessera/monitors.json`, written whole.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from component_store.store import ComponentStore
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
    from serving.monitoring import MonitorError, monitor_report, parse_window

    try:
        report = monitor_report(workspace, monitor.endpoint, parse_window(monitor.window), monitor.drift_share, now)
    except MonitorError as exc:
        return CheckOutcome(monitor.endpoint, now, "no_data", str(exc))
    except TesseraError as exc:
        return CheckOutcome(monitor.endpoint, now, "error", str(exc))
    share = float(report["drift_share"])
    if not report["dataset_drift"]:
        state.drifting, state.episode_started, state.retrain_run = False, None, None
        return CheckOutcome(monitor.endpoint, now, "no_drift", drift_share=share)
    if state.drifting:  # the same episode: nothing new to start or tell
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
