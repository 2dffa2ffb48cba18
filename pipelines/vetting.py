"""Vetting a team component before it is published: the store's static checks, the component's own
tests, then one run through KFP's executor exactly as the runner starts a node.

- static: typed, documented, imports inside its body, writes only under its outputs
  (component_store/vet.py);
- its tests: `<store folder>/tests/test_NAME.py`, run by pytest in a subprocess with a time limit; a
  test function that asserts nothing, or no test at all, is a problem (an empty test proves nothing);
- a trial run: the frozen YAML through KFP's executor in a process of its own, each table input fed
  200 rows of the demo's player table and each parameter its default. A component whose inputs
  are not all tables, or with a parameter without a default, is not tried (the report says so).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from component_store.vet import vet_component
from tessera.errors import VetFailed

TEST_TIMEOUT_SECONDS = 300
TRIAL_TIMEOUT_SECONDS = 300
TRIAL_ROWS = 200


@dataclass(frozen=True)
class VetReport:
    ref: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what passed, and what was not tried and why

    @property
    def passed(self) -> bool:
        return not self.problems

    def raise_if_failed(self) -> None:
        if self.problems:
            raise VetFailed(self.ref, self.problems)


def test_file(source_folder: Path, name: str) -> Path:
    return source_folder / "tests" / f"test_{name}.py"


def vet_team_component(component: Any, source_folder: Path, environment: dict[str, str] | None = None) -> VetReport:
    """Every check on a team component (a `StoreComponent` whose source is in `source_folder`)."""
    report = VetReport(component.spec.ref)
    report.problems.extend(vet_component(component, tests_root=None))
    tests_passed = _run_own_tests(component.name, source_folder, report, environment or {})
    if tests_passed and not report.problems:
        _trial_run(component, report, environment or {})
    return report


def _run_own_tests(name: str, source_folder: Path, report: VetReport, environment: dict[str, str]) -> bool:
    path = test_file(source_folder, name)
    if not path.exists():
        report.problems.append(f"no tests: write {path} (tessera components new {name} scaffolds one)")
        return False
    hollow = tests_that_assert_nothing(path.read_text())
    if hollow:
        report.problems.append(f"{', '.join(hollow)} in {path.name} assert nothing: a test must check the output")
        return False
    env = os.environ | environment
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(source_folder), env.get("PYTHONPATH", "")]))
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(path)],
            cwd=source_folder, env=env, capture_output=True, text=True, timeout=TEST_TIMEOUT_SECONDS,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        report.problems.append(f"its tests ran over {TEST_TIMEOUT_SECONDS}s: make them smaller")
        return False
    output = (finished.stdout + finished.stderr).strip()
    if finished.returncode == 5:
        report.problems.append(f"{path.name} collects no test: name test functions test_…")
        return False
    if finished.returncode != 0:
        report.problems.append(f"its tests fail:\n{_tail(output, 40)}")
        return False
    report.notes.append(f"tests: {output.splitlines()[-1] if output else 'passed'}")
    return True


def tests_that_assert_nothing(source: str) -> list[str]:
    """Test functions with no `assert`, no `pytest.raises` and no call of another assert helper."""
    hollow = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test"):
            checks = any(
                isinstance(inner, ast.Assert)
                or (isinstance(inner, ast.Attribute) and inner.attr in ("raises", "approx"))
                or (
                    isinstance(inner, ast.Name | ast.Attribute)
                    and "assert" in getattr(inner, "id", getattr(inner, "attr", ""))
                )
                for inner in ast.walk(node)
            )
            if not checks:
                hollow.append(node.name)
    return hollow


def _trial_run(component: Any, report: VetReport, environment: dict[str, str]) -> None:
    from component_store.runtime.player_risk import player_risk_table
    from pipelines.executor import executor_input, read_executor_call, start_node

    spec = component.spec
    untried = [a.name for a in spec.inputs if a.type != "Dataset"]
    no_default = [p.name for p in spec.params if p.required]
    if untried or no_default:
        why = (
            f"input {untried[0]} is a {spec.input(untried[0]).type}"
            if untried
            else f"parameter {no_default[0]} has no default"
        )
        report.notes.append(f"not tried through KFP's executor: {why}; its tests are the check")
        return
    call = read_executor_call(component.to_component_yaml())
    with tempfile.TemporaryDirectory(prefix="tessera-vet-") as tmp:
        work = Path(tmp)
        inputs = {}
        for artifact in spec.inputs:
            path = work / f"{artifact.name}.parquet"
            player_risk_table(TRIAL_ROWS).to_parquet(path, index=False)
            inputs[artifact.name] = {"uri": str(path), "metadata": {}}
        params = {p.name: p.default for p in spec.params}
        log = work / "trial.log"
        started = time.monotonic()
        process = start_node(
            call, executor_input(call, params, inputs, work / "out"), work / "_work", log, dict(environment)
        )
        while (code := process.poll()) is None:
            if time.monotonic() - started > TRIAL_TIMEOUT_SECONDS:
                process.kill()
                report.problems.append(f"its trial run through KFP's executor ran over {TRIAL_TIMEOUT_SECONDS}s")
                return
            time.sleep(0.05)
        if code != 0:
            text = log.read_text(errors="replace") if log.exists() else ""
            report.problems.append(
                f"its trial run through KFP's executor failed on {TRIAL_ROWS} rows of the demo's player table "
                f"(exit {code}):\n{_tail(text, 25)}"
            )
            return
        missing = [o.name for o in spec.outputs if not (work / "out" / o.name).exists()]
        if missing:
            report.problems.append(f"its trial run wrote no '{missing[0]}': write every output under its .path")
            return
    report.notes.append(
        f"trial run through KFP's executor: ok on {TRIAL_ROWS} rows ({time.monotonic() - started:.1f}s)"
    )


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
