"""Recurring runs of a workflow on Kubeflow Pipelines: create, list, pause, resume, delete.

A schedule is a KFP recurring run in the project's experiment, named `project/workflow`
unless given a name, running the workflow compiled now with the given parameters. Cron
expressions are the usual five fields (`0 3 * * *`: every day at 03:00); KFP wants six,
with seconds first, so a five-field expression gets `0 ` in front.

Example:
    >>> schedules = Schedules(workspace, ComponentStore())  # doctest: +SKIP
    >>> schedules.create(spec, "0 3 * * *", {"players": 20000})  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from component_store.store import ComponentStore
from pipelines.kubeflow_runner import (
    kubeflow_client,
    kubeflow_settings,
    pipeline_package,
    project_experiment,
    talking_to_kubeflow,
    task_environment,
)
from pipelines.runner import validated_params
from pipelines.spec import WorkflowSpec
from pipelines.validation import check_approved
from tessera.errors import TesseraError
from tessera.suggest import did_you_mean
from tessera.workspace import Workspace


class ScheduleError(TesseraError):
    """A schedule that cannot be created as asked, or that does not exist."""


def kfp_cron(expression: str) -> str:
    """A five- or six-field cron expression in KFP's six-field form (seconds first).

    Example:
        >>> kfp_cron("0 3 * * *")
        '0 0 3 * * *'
    """
    fields = expression.split()
    if len(fields) not in (5, 6) or not _valid(expression):
        raise ScheduleError(
            f"'{expression[:80]}' is not a cron expression; write five fields: minute (0-59) hour (0-23) "
            "day-of-month (1-31) month (1-12) day-of-week (0-6), e.g. '0 3 * * *' for every day at 03:00"
        )
    if not next_runs(expression, 1):
        raise ScheduleError(f"'{expression}' never comes round (e.g. 31 February); pick a date that exists")
    return " ".join(["0", *fields] if len(fields) == 5 else fields)


def next_runs(expression: str, count: int = 3, after: datetime | None = None) -> list[datetime]:
    """The next `count` times (UTC, as KFP reads cron) a five- or six-field expression fires; [] if never.

    Example:
        >>> [t.isoformat() for t in next_runs("0 3 * * *", 2, datetime(2026, 12, 4, tzinfo=timezone.utc))]
        ['2026-12-04T03:00:00+00:00', '2026-12-05T03:00:00+00:00']
    """
    from croniter import CroniterBadDateError, croniter

    start = after or datetime.now(UTC)
    times = croniter(expression, start, second_at_beginning=len(expression.split()) == 6, max_years_between_matches=8)
    try:
        return [times.get_next(datetime) for _ in range(count)]
    except CroniterBadDateError:
        return []


def _valid(expression: str) -> bool:
    from croniter import croniter

    return bool(croniter.is_valid(expression, second_at_beginning=len(expression.split()) == 6))


@dataclass(frozen=True)
class Schedule:
    """One recurring run, as `tessera schedule list` shows it."""

    id: str
    name: str
    cron: str
    enabled: bool
    params: dict[str, Any]
    created_at: str


class Schedules:
    """Recurring runs of workflows in the workspace's Kubeflow namespace."""

    def __init__(self, workspace: Workspace, store: ComponentStore, client: Any = None):
        self.workspace = workspace
        self.store = store
        self.settings = kubeflow_settings(workspace)
        self.client = client or kubeflow_client(self.settings)

    def create(
        self, spec: WorkflowSpec, cron: str, params: dict[str, Any], name: str = "", max_concurrency: int = 1
    ) -> Schedule:
        """Schedule `spec` with `params` (validated now); refuses a name that is taken."""
        schedule_name = name or f"{spec.project}/{spec.name}"
        expression = kfp_cron(cron)
        values = validated_params(spec, params, self.store)
        check_approved(spec, self.store, self.workspace.config.allow_unapproved, "a schedule")
        if any(s.name == schedule_name for s in self.list()):
            raise ScheduleError(f"A schedule named '{schedule_name}' exists; delete it first or give another --name")
        environment = task_environment(self.workspace, f"schedule:{schedule_name}")
        with (
            talking_to_kubeflow(f"schedule '{schedule_name}'"),
            pipeline_package(self.workspace, self.store, spec, environment) as package,
            contextlib.redirect_stdout(io.StringIO()),  # kfp prints its links itself
        ):
            experiment = project_experiment(self.client, spec.project, self.settings.namespace)
            created = self.client.create_recurring_run(
                experiment_id=experiment.experiment_id,
                job_name=schedule_name,
                description=f"Tessera schedule of {spec.project}/{spec.name}",
                cron_expression=expression,
                max_concurrency=max_concurrency,
                no_catchup=True,
                params=values,
                pipeline_package_path=package,
                service_account=self.settings.service_account or None,
                pipeline_root=self.settings.pipeline_root or None,
            )
        return _schedule(created)

    def list(self) -> list[Schedule]:
        """Every recurring run in the namespace, by name."""
        found: list[Schedule] = []
        token = ""
        with talking_to_kubeflow("list schedules"):
            while True:
                page = self.client.list_recurring_runs(
                    page_token=token, page_size=100, namespace=self.settings.namespace
                )
                found += [_schedule(r) for r in page.recurring_runs or []]
                token = page.next_page_token or ""
                if not token:
                    break
        return sorted(found, key=lambda s: s.name)

    def pause(self, name: str) -> Schedule:
        schedule = self.find(name)
        with talking_to_kubeflow(f"pause '{schedule.name}'"):
            self.client.disable_recurring_run(schedule.id)
        return self._read(schedule.id)

    def resume(self, name: str) -> Schedule:
        schedule = self.find(name)
        with talking_to_kubeflow(f"resume '{schedule.name}'"):
            self.client.enable_recurring_run(schedule.id)
        return self._read(schedule.id)

    def delete(self, name: str) -> Schedule:
        schedule = self.find(name)
        with talking_to_kubeflow(f"delete '{schedule.name}'"):
            self.client.delete_recurring_run(schedule.id)
        return schedule

    def _read(self, schedule_id: str) -> Schedule:
        with talking_to_kubeflow(f"read schedule {schedule_id}"):
            return _schedule(self.client.get_recurring_run(schedule_id))

    def find(self, name_or_id: str) -> Schedule:
        schedules = self.list()
        for schedule in schedules:
            if name_or_id in (schedule.name, schedule.id):
                return schedule
        names = [s.name for s in schedules]
        raise ScheduleError(
            f"No schedule '{name_or_id}' in namespace {self.settings.namespace}{did_you_mean(name_or_id, names)}; "
            f"schedules: {', '.join(names) or 'none'}"
        )


def _schedule(run: Any) -> Schedule:
    trigger = run.trigger.cron_schedule if run.trigger and run.trigger.cron_schedule else None
    parameters = run.runtime_config.parameters if run.runtime_config and run.runtime_config.parameters else {}
    return Schedule(
        id=run.recurring_run_id,
        name=run.display_name,
        cron=trigger.cron if trigger else "",
        enabled=str(run.mode) == "ENABLE",
        params=dict(parameters),
        created_at=run.created_at.isoformat() if run.created_at else "",
    )
