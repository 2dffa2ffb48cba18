"""Parameter forms generated from a component's typed parameters (its JSON Schema).

A value is either a literal of the parameter's type or a `${params.NAME}` reference to a
workflow run parameter. `read_param` turns what a widget holds back into a value and says
what is wrong with it, naming the parameter.
"""

from __future__ import annotations

import json
from typing import Any

import streamlit as st

from component_store.spec import ParamSpec
from pipelines.spec import WorkflowParam, WorkflowSpec, param_reference

CONSTANT = "(a value)"


def as_param_spec(name: str, param: WorkflowParam) -> ParamSpec:
    """A workflow run parameter seen as a form field."""
    return ParamSpec(name=name, type=param.type, required=param.default is None, default=param.default,
                     description=param.description)  # fmt: skip


def references_for(param: ParamSpec, spec: WorkflowSpec) -> list[str]:
    """Run parameters of a fitting type that this parameter may take its value from."""
    fits = {"number": {"number", "integer"}}.get(param.type, {param.type})
    return [name for name, p in spec.params.items() if p.type in fits]


def read_param(param: ParamSpec, raw: Any) -> Any:
    """A widget's content as a parameter value; raises ValueError naming the parameter when it is not one."""
    if param.type in ("array", "object"):
        text = str(raw or "").strip()
        if not text:
            return [] if param.type == "array" else {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{param.name}: not JSON ({exc.msg} at column {exc.colno}); e.g. {_example(param)}"
            ) from None
        if not isinstance(value, list if param.type == "array" else dict):
            raise ValueError(f"{param.name}: needs a JSON {param.type}, e.g. {_example(param)}")
        return value
    if param.type in ("integer", "number"):
        try:
            return int(raw) if param.type == "integer" else float(raw)
        except (TypeError, ValueError):
            kind = "a whole number" if param.type == "integer" else "a number"
            raise ValueError(f"{param.name}: '{raw}' is not {kind}") from None
    if param.type == "string" and param.required and not str(raw).strip():
        raise ValueError(f"{param.name}: required, give a value")
    return raw


def param_form(
    params: tuple[ParamSpec, ...], current: dict[str, Any], spec: WorkflowSpec, key: str, links: bool = False
) -> dict[str, Any]:
    """Render one widget per parameter inside a form; returns the widgets' raw values, keyed by name.

    A parameter set to `${params.x}` (or every one, with `links`) gets a run-parameter picker.
    """
    raw: dict[str, Any] = {}
    for param in params:
        value = current.get(param.name, param.default)
        label = f"{param.name}{' *' if param.required else ''}"
        help_text = param.description or None
        refs = references_for(param, spec)
        reference = param_reference(value)
        if refs and (links or reference):
            options = [CONSTANT] + [f"${{params.{r}}}" for r in refs]
            chosen = st.selectbox(
                f"{param.name}: value or run parameter", options,
                index=options.index(value) if reference and value in options else 0, key=f"{key}-{param.name}-ref",
            )  # fmt: skip
            if chosen != CONSTANT:
                raw[param.name] = chosen
                continue
            if reference:
                value = param.default
        raw[param.name] = _widget(param, value, label, help_text, f"{key}-{param.name}")
    return raw


def _widget(param: ParamSpec, value: Any, label: str, help_text: str | None, key: str) -> Any:
    if param.choices:
        options = list(param.choices)
        return st.selectbox(
            label, options, index=options.index(value) if value in options else 0, help=help_text, key=key
        )
    if param.type == "boolean":
        return st.checkbox(label, value=bool(value), help=help_text, key=key)
    if param.type == "integer":
        return st.number_input(
            label, value=int(value) if value is not None else None,
            min_value=int(param.minimum) if param.minimum is not None else None,
            max_value=int(param.maximum) if param.maximum is not None else None, step=1, help=help_text, key=key,
        )  # fmt: skip
    if param.type == "number":
        return st.number_input(
            label, value=float(value) if value is not None else None,
            min_value=float(param.minimum) if param.minimum is not None else None,
            max_value=float(param.maximum) if param.maximum is not None else None, format="%g", help=help_text, key=key,
        )  # fmt: skip
    if param.type in ("array", "object"):
        text = json.dumps(value) if value is not None else ""
        return st.text_area(label, value=text, help=(help_text or "") + " (JSON)", key=key, height=68)
    return st.text_input(label, value="" if value is None else str(value), help=help_text, key=key)


def read_form(params: tuple[ParamSpec, ...], raw: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Values to store on the node (defaults left out) and the problems found, one per parameter."""
    values: dict[str, Any] = {}
    problems: list[str] = []
    for param in params:
        if param.name not in raw or raw[param.name] is None:
            if param.required:
                problems.append(f"{param.name}: required, give a value")
            continue
        if param_reference(raw[param.name]):
            values[param.name] = raw[param.name]
            continue
        try:
            value = read_param(param, raw[param.name])
        except (ValueError, TypeError) as exc:
            problems.append(str(exc))
            continue
        if param.required or value != param.default:
            values[param.name] = value
    return values, problems


def _example(param: ParamSpec) -> str:
    if param.default not in (None, [], {}):
        return json.dumps(param.default)
    return '["a", "b"]' if param.type == "array" else '{"key": 1}'


# What the CLI says in YAML's terms, said in the designer's: (YAML wording, studio wording)
_FOR_ANALYSTS = (
    ("bind it to an upstream output as '<node>.<output>'",
     "connect a step's output to it: draw an edge on the canvas, or pick one under Inputs"),
    (" › inputs › ", " › input "),
    (" › params › ", " › parameter "),
    ("node '", "step '"),
)  # fmt: skip


def for_analysts(text: str) -> str:
    """A validation message in the designer's words (steps, edges, inputs) instead of the YAML's."""
    for yaml_words, studio_words in _FOR_ANALYSTS:
        text = text.replace(yaml_words, studio_words)
    return text


TRY_IT_GROUPS = ("key", "choices", "numbers", "whole numbers", "yes / no", "text")
TRY_IT_OPEN_AT_MOST = 12  # a form with more fields opens its first group only; the rest are collapsed


def try_it_groups(inputs: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """An endpoint's input columns (its metadata's `inputs`) grouped for the try-it form, in signature
    order within a group: the entity key a feature lookup scores by, columns with known categories,
    decimals, whole numbers, flags and free text. Empty groups are left out."""

    def group(column: dict[str, Any]) -> str:
        described, datatype = column.get("parameters") or {}, str(column.get("datatype", ""))
        if described.get("entity"):
            return "key"
        if "categories" in described:
            return "choices"
        if datatype == "BOOL":
            return "yes / no"
        if datatype == "BYTES":
            return "text"
        return "whole numbers" if datatype.startswith(("INT", "UINT")) else "numbers"

    grouped: dict[str, list[dict[str, Any]]] = {name: [] for name in TRY_IT_GROUPS}
    for column in inputs:
        grouped[group(column)].append(column)
    return [(name, columns) for name, columns in grouped.items() if columns]
