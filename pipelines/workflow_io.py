"""Read and write workflow files. A workflow that loads is a valid workflow.

Bad YAML reports its line and column; shape and meaning problems are all reported at
once (`WorkflowInvalid.problems`). Saving replaces the file atomically, so a crash or a
rejected edit never leaves a half-written workflow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from component_store.store import ComponentStore
from pipelines.spec import WorkflowSpec
from pipelines.validation import validate_workflow
from tessera.errors import Problem, WorkflowInvalid
from tessera.suggest import did_you_mean
from tessera.workspace import write_atomically


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key '{key}' appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def parse_workflow(text: str, source: str = "<text>") -> WorkflowSpec:
    """Parse YAML into a `WorkflowSpec`, checking its shape only (not the store).

    Raises:
        WorkflowInvalid: bad YAML (with line and column) or fields of the wrong shape.
    """
    try:
        raw = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise WorkflowInvalid(source, [Problem(where, f"{exc.problem or exc}".strip())]) from None
    except yaml.YAMLError as exc:
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
    from pipelines.spec import Node, Position, Resources, WorkflowParam

    head = [p for p in loc[:-1] if not isinstance(p, int)]
    model: Any = WorkflowSpec
    for part in head:
        model = {"nodes": Node, "resources": Resources, "params": WorkflowParam, "layout": Position}.get(
            str(part), model
        )
    return list(model.model_fields)


def load_workflow(path: Path, store: ComponentStore) -> WorkflowSpec:
    """Read, parse and validate a workflow file.

    Example:
        >>> spec = load_workflow(Path("projects/risk/workflows/cheater_detection.yaml"), ComponentStore())  # doctest: +SKIP

    Raises:
        WorkflowInvalid: listing every problem, each with where it is.
    """
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise WorkflowInvalid(str(path), [Problem("", "no such file")]) from None
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
    data = spec.model_dump(mode="json", exclude_defaults=True)
    # Keep a stable, readable key order: name first, layout last.
    order = ["name", "project", "description", "params", "nodes", "layout"]
    ordered = {key: data[key] for key in order if key in data}
    return yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True, width=100)


def save_workflow(spec: WorkflowSpec, path: Path, store: ComponentStore | None = None) -> None:
    """Write `spec` to `path` atomically; with a store, refuse (and write nothing) if it is invalid."""
    if store is not None:
        check_workflow(spec, store, str(path))
    write_atomically(Path(path), workflow_to_yaml(spec))
