"""Read and write workflow files. A workflow that loads is a valid workflow.

Files are YAML 1.2 (`pipelines.workflow_text`). Bad YAML reports its line and column; shape and meaning problems are all reported at
once (`WorkflowInvalid.problems`). Saving replaces the file atomically, so a crash or a
rejected edit never leaves a half-written workflow.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from component_store.store import ComponentStore
from pipelines.spec import WorkflowSpec
from pipelines.validation import validate_workflow
from pipelines.workflow_text import YamlTooLarge, merged_text, read_yaml
from tessera.errors import Problem, WorkflowInvalid
from tessera.suggest import did_you_mean
from tessera.workspace import write_atomically


def parse_workflow(text: str, source: str = "<text>") -> WorkflowSpec:
    """Parse YAML into a `WorkflowSpec`, checking its shape only (not the store).

    Raises:
        WorkflowInvalid: bad YAML (with line and column) or fields of the wrong shape.
    """
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        raw = read_yaml(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        problem = str(exc.problem or exc).strip().splitlines()[0][:160]
        duplicate = re.match(r'found duplicate key "(.{1,64}?)"', problem)
        if duplicate:  # ruamel quotes both values too; name the key only
            problem = f"key '{duplicate.group(1)}' appears twice in one mapping"
        raise WorkflowInvalid(source, [Problem(where, problem)]) from None
    except YAMLError as exc:
        raise WorkflowInvalid(source, [Problem("YAML", str(exc).splitlines()[0][:160])]) from None
    except YamlTooLarge as exc:
        raise WorkflowInvalid(source, [Problem("YAML", str(exc))]) from None
    if not isinstance(raw, dict):
        raise WorkflowInvalid(
            source, [Problem("", f"a workflow is a mapping with name and nodes, got {type(raw).__name__}")]
        )
    try:
        return WorkflowSpec.model_validate(raw)
    except ValidationError as exc:
        raise WorkflowInvalid(source, [_shape_problem(raw, err) for err in exc.errors()]) from None


def _shape_problem(raw: dict[str, Any], error: Any) -> Problem:
    loc = list(error["loc"])
    parts: list[str] = []
    if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
        nodes = raw.get("nodes") or []
        node = nodes[loc[1]] if loc[1] < len(nodes) else None
        label = node.get("id") if isinstance(node, dict) else None
        parts.append(f"node '{label}'" if label else f"nodes[{loc[1]}]")
        loc = loc[2:]
    parts += [str(p) for p in loc]
    message = error["msg"]
    if error["type"] == "extra_forbidden" and loc:
        model_fields = _fields_at(error["loc"])
        message = f"unknown field{did_you_mean(str(loc[-1]), model_fields)}"
    return Problem(" › ".join(parts) or "workflow", message)


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    from pipelines.spec import Loop, Node, Position, Resources, WorkflowParam

    head = [p for p in loc[:-1] if not isinstance(p, int)]
    model: Any = WorkflowSpec
    for part in head:
        models = {"nodes": Node, "resources": Resources, "params": WorkflowParam, "layout": Position, "loops": Loop}
        model = models.get(str(part), model)
    return list(model.model_fields)


def load_workflow(path: Path, store: ComponentStore) -> WorkflowSpec:
    """Read, parse and validate a workflow file.

    Example:
        >>> spec = load_workflow(Path("projects/risk/workflows/cheater_detection.yaml"), ComponentStore())  # doctest: +SKIP

    Raises:
        WorkflowInvalid: listing every problem, each with where it is.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowInvalid(str(path), [Problem("", "no such file")]) from None
    except UnicodeDecodeError as exc:
        raise WorkflowInvalid(
            str(path), [Problem(f"byte {exc.start}", "not UTF-8 text: save the workflow as UTF-8")]
        ) from None
    spec = parse_workflow(text, str(path))
    check_workflow(spec, store, str(path))
    return spec


def check_workflow(spec: WorkflowSpec, store: ComponentStore, source: str | None = None) -> None:
    """Raise `WorkflowInvalid` listing every problem of `spec`, or return quietly."""
    problems = validate_workflow(spec, store)
    if problems:
        raise WorkflowInvalid(source or f"'{spec.name}'", problems)


def workflow_to_yaml(spec: WorkflowSpec) -> str:
    """The workflow as YAML, leaving out fields at their defaults; parses back to an equal value."""
    return yaml.safe_dump(_ordered(spec), sort_keys=False, allow_unicode=True, width=100)


def _ordered(spec: WorkflowSpec) -> dict[str, Any]:
    """The spec's fields not at their defaults, in a stable, readable order: name first, layout last."""
    data = spec.model_dump(mode="json", exclude_defaults=True)
    if spec.layout:  # a place is both coordinates, even one at 0
        data["layout"] = {node: {"x": p.x, "y": p.y} for node, p in spec.layout.items()}
    order = ["name", "project", "description", "params", "nodes", "loops", "on_exit", "layout"]
    return {key: data[key] for key in order if key in data}


def save_workflow(spec: WorkflowSpec, path: Path, store: ComponentStore | None = None) -> None:
    """Write `spec` to `path` atomically; with a store, refuse (and write nothing) if it is invalid.

    The file's comments, key order and quoting survive wherever the edit did not touch them.
    """
    if store is not None:
        check_workflow(spec, store, str(path))
    target = Path(path)
    old_text = target.read_text() if target.exists() else ""
    write_atomically(target, merged_text(old_text, _ordered(spec)))
