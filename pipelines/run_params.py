"""Run parameters given on the command line (`-p key=value`), typed by the workflow's params."""

from __future__ import annotations

import json
from typing import Any

from pipelines.spec import WorkflowParam, WorkflowSpec
from pipelines.validation import value_matches
from tessera.errors import Problem, WorkflowInvalid
from tessera.suggest import did_you_mean, one_of


def parse_run_params(spec: WorkflowSpec, assignments: list[str]) -> dict[str, Any]:
    """`['test_size=0.3', 'players=800']` -> `{'test_size': 0.3, 'players': 800}`, typed and checked.

    Raises:
        WorkflowInvalid: an unknown name (with did-you-mean) or a value of the wrong type; all at once.
    """
    values: dict[str, Any] = {}
    problems = []
    for assignment in assignments:
        name, equals, text = assignment.partition("=")
        name = name.strip()
        if not equals:
            problems.append(Problem(f"-p {assignment}", "write run parameters as NAME=VALUE"))
            continue
        param = spec.params.get(name)
        if param is None:
            problems.append(
                Problem(
                    f"-p {name}",
                    f"the workflow has no run parameter '{name}'{did_you_mean(name, spec.params)}; "
                    f"its run parameters: {one_of(spec.params)}",
                )
            )
            continue
        try:
            values[name] = _convert(text, param)
        except ValueError as exc:
            problems.append(Problem(f"-p {name}", str(exc)))
    if problems:
        raise WorkflowInvalid(f"'{spec.name}' run parameters", problems)
    return values


def _convert(text: str, param: WorkflowParam) -> Any:
    try:
        if param.type == "string":
            return text
        if param.type == "boolean":
            lowered = text.strip().lower()
            if lowered in {"true", "yes", "1"}:
                return True
            if lowered in {"false", "no", "0"}:
                return False
            raise ValueError
        value = json.loads(text)
    except (ValueError, json.JSONDecodeError):
        raise ValueError(f"'{text}' is not a valid {param.type}") from None
    if param.type == "number" and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not value_matches(value, param.type):
        raise ValueError(f"'{text}' is not a valid {param.type}")
    return value


def with_run_params(spec: WorkflowSpec, values: dict[str, Any]) -> WorkflowSpec:
    """The workflow with run parameter defaults replaced by `values` (so validation checks their ranges)."""
    params = {
        name: p.model_copy(update={"default": values[name]}) if name in values else p for name, p in spec.params.items()
    }
    return spec.model_copy(update={"params": params})


def effective_params(spec: WorkflowSpec, values: dict[str, Any]) -> dict[str, Any]:
    """Every run parameter's value for a run: the given value, else the default."""
    problems = [
        Problem(
            f"-p {name}",
            f"the workflow has no run parameter '{name}'{did_you_mean(name, spec.params)}; "
            f"its run parameters: {one_of(spec.params)}",
        )
        for name in values
        if name not in spec.params
    ]
    problems += [
        Problem(f"-p {name}", "has no default; give it with -p NAME=VALUE")
        for name, p in spec.params.items()
        if name not in values and p.default is None
    ]
    if problems:
        raise WorkflowInvalid(f"'{spec.name}' run parameters", problems)
    return {name: values.get(name, p.default) for name, p in spec.params.items()}
