"""Sweeps: one run per point of a grid over run parameters, compared side by side.

`tessera sweep WF --grid max_depth=3,5,7 --grid test_size=0.2,0.3` is six runs of WF, through the
same runner as `tessera run` (locally, or one Kubeflow run per point in the project's experiment).
Locally, the first point runs alone so the nodes every point shares (the data, say) are computed
once and come from the cache for the others; the rest run up to `parallelism` at a time (points
started together may both compute a node only they share; `parallelism=1` never does).

A sweep is a small JSON record in `.tessera/sweeps/ID.json` (its workflow, grid, fixed parameters and
each point's run id); `compare` reads the runs back: each point's parameters, status and the numbers
of its `Metrics` outputs (`evaluate.roc_auc`, …).
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from component_store.store import ComponentStore
from pipelines.run_params import parse_run_params
from pipelines.runner import Runner, RunOptions, validated_params
from pipelines.runs import FINAL_RUN_STATES, RunRecord, run_metrics
from pipelines.spec import WorkflowSpec
from tessera.errors import Problem, TesseraError, WorkflowInvalid
from tessera.suggest import did_you_mean
from tessera.workspace import Workspace, write_atomically

MAX_POINTS = 200


@dataclass(frozen=True)
class Sweep:
    id: str
    workflow: str  # project/name
    grid: dict[str, list[Any]]
    fixed: dict[str, Any]
    runs: list[dict[str, Any]]  # {"params": {...}, "run_id": "..."}
    backend: str
    created_at: float


def parse_grid(spec: WorkflowSpec, assignments: list[str]) -> dict[str, list[Any]]:
    """`['max_depth=3,5,7', 'test_size=0.2,0.3']` -> typed values per run parameter; every problem at once."""
    grid: dict[str, list[Any]] = {}
    problems = []
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals or not text.strip():
            problems.append(Problem(f"--grid {assignment[:40]}", "write a grid as NAME=V1,V2,…"))
            continue
        if name in grid:
            problems.append(Problem(f"--grid {name}", "given twice: put every value in one --grid"))
            continue
        try:
            values = [parse_run_params(spec, [f"{name}={v.strip()}"])[name] for v in text.split(",")]
        except WorkflowInvalid as exc:
            problems += [Problem(f"--grid {name}", p.message) for p in exc.problems]
            continue
        grid[name] = list(dict.fromkeys(values))  # a value given twice is one point
    if problems:
        raise WorkflowInvalid(f"'{spec.name}' sweep grid", problems)
    return grid


def grid_points(grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination, the first parameter varying slowest."""
    points = [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    if len(points) > MAX_POINTS:
        raise TesseraError(f"the grid has {len(points)} points; at most {MAX_POINTS} in one sweep: narrow it")
    return points


class Sweeps:
    """Start sweeps and read them back, for one workspace and one runner."""

    def __init__(self, workspace: Workspace, runner: Runner, store: ComponentStore):
        self.folder = workspace.state_dir / "sweeps"
        self.runner = runner
        self.store = store

    def start(
        self,
        spec: WorkflowSpec,
        grid: dict[str, list[Any]],
        fixed: dict[str, Any],
        options: RunOptions = RunOptions(),
        parallelism: int = 2,
        on_change: Callable[[Sweep, list[RunRecord]], None] | None = None,
    ) -> Sweep:
        """Run every point (validated all first: a bad point starts nothing) and wait for them all."""
        overlap = sorted(set(grid) & set(fixed))
        if overlap:
            raise TesseraError(f"'{overlap[0]}' is both swept (--grid) and fixed (-p): keep one")
        points = [fixed | point for point in grid_points(grid)]
        for point in points:  # every point checked before any run starts
            validated_params(spec, point, self.store)
        sweep = Sweep(
            id=f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}", workflow=f"{spec.project}/{spec.name}",
            grid=grid, fixed=fixed, runs=[], backend=self.runner.backend, created_at=time.time(),
        )  # fmt: skip
        if parallelism == 1 and hasattr(self.runner, "run"):  # one at a time: in this process, no driver per run
            for params in points:
                self._run_here(sweep, spec, params, options, on_change)
            return sweep
        pending = list(points)
        running: list[str] = []
        warm = self.runner.backend != "local"  # locally, the first point runs alone to fill the shared cache
        while pending or running:
            while pending and len(running) < (max(1, parallelism) if warm else 1 - len(sweep.runs)):
                params = pending.pop(0)
                record = self.runner.submit(spec, params, options)
                sweep.runs.append({"params": params, "run_id": record.id})
                running.append(record.id)
                self._save(sweep)
            records = [self.runner.status(run_id) for run_id in running]
            running = [r.id for r in records if r.status not in FINAL_RUN_STATES]
            warm = warm or not running
            if on_change:
                on_change(sweep, [self.runner.status(r["run_id"]) for r in sweep.runs])
            if running:
                time.sleep(0.2)
        return sweep

    def _run_here(
        self, sweep: Sweep, spec: WorkflowSpec, params: dict[str, Any], options: RunOptions, on_change: Any
    ) -> None:
        def changed(record: RunRecord) -> None:
            if not sweep.runs or sweep.runs[-1]["run_id"] != record.id:
                sweep.runs.append({"params": params, "run_id": record.id})
                self._save(sweep)
            if on_change:
                on_change(sweep, [self.runner.status(r["run_id"]) for r in sweep.runs])

        self.runner.run(spec, params, options, changed)  # type: ignore[attr-defined]

    def get(self, sweep_id: str) -> Sweep:
        known = sorted(p.stem for p in self.folder.glob("*.json")) if self.folder.exists() else []
        matches = [k for k in known if k.startswith(sweep_id)]
        if len(matches) != 1:
            what = "is ambiguous" if matches else f"does not exist{did_you_mean(sweep_id, known)}"
            raise TesseraError(f"sweep '{sweep_id}' {what}; sweeps: {', '.join(known[-5:]) or 'none yet'}")
        return Sweep(**json.loads((self.folder / f"{matches[0]}.json").read_text()))

    def all(self) -> list[Sweep]:
        if not self.folder.exists():
            return []
        return [Sweep(**json.loads(p.read_text())) for p in sorted(self.folder.glob("*.json"))]

    def compare(self, sweep: Sweep) -> list[dict[str, Any]]:
        """One row per point: its swept parameters, run id, status and every number of its Metrics outputs."""
        rows = []
        for point in sweep.runs:
            record = self.runner.status(point["run_id"])
            row: dict[str, Any] = {name: point["params"][name] for name in sweep.grid}
            row |= {"run": record.id, "status": record.status}
            row |= run_metrics(record)
            rows.append(row)
        return rows

    def _save(self, sweep: Sweep) -> Path:
        path = self.folder / f"{sweep.id}.json"
        write_atomically(path, json.dumps(asdict(sweep), indent=2, default=str))
        return path
