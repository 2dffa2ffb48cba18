"""Fitted transforms as values, and the inference pipeline that applies them to raw rows.

A transform component that learns from its input (`fill_missing`, `encode_categorical`,
`scale_numeric`) or reshapes it (`select_columns`) records what it did as a step, a plain JSON
value, and passes the chain of steps on in its output table's metadata (`preprocessing`); steps
that only split or filter rows pass the chain on unchanged. The first step of a chain is the
`source`: the raw columns, their kinds and whether they had missing values. A trainer copies the
chain of its training table into its model's metadata, and `register_model` stores it beside the
version, so an endpoint can take rows as the business has them.

The apply contract, one function per kind, used both by the components (to make their output
tables) and by the server (on each request), so training and serving cannot drift apart:

- `fill`:   `{"values": {column: value}}`, missing values in each column take the fitted value;
- `encode`: `{"method": "onehot"|"ordinal", "categories": {column: [sorted values]}}`, a missing
  value is the category `missing`; a value not seen in training is `other` (all-zero one-hot
  columns, or code -1, when training had no `other`);
- `scale`:  `{"columns": {column: {"centre": c, "scale": s}}}`, value → (value − c) / s;
- `select`: `{"columns": [kept, in order]}`.

`drop_rows` (fill_missing's row-dropping strategy) cannot run at serving time: a request's row cannot
be dropped; a chain holding it is refused with that step named.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from serving.payloads import BadRequest, FeatureSchema, quoted
from serving.predictor import OutputContract, Outputs, Predictor
from tessera.suggest import did_you_mean

Step = dict[str, Any]
CHAIN_KEY = "preprocessing"
ARTIFACT = "tessera/inference_pipeline.json"
MISSING, OTHER = "missing", "other"
NUMERIC_KINDS = {"double", "long", "boolean"}


class NotServable(ValueError):
    """A chain with a step that cannot run at serving time; the message names the step."""


def source_step(frame: pd.DataFrame) -> Step:
    """The raw columns of a table: kind (double, long, boolean or string) and whether any value is missing."""
    columns = {}
    for name in frame.columns:
        dtype = frame[name].dtype
        kind = (
            "boolean"
            if dtype.kind == "b"
            else "long"
            if dtype.kind in "iu"
            else "double"
            if dtype.kind == "f"
            else "string"
        )
        columns[str(name)] = {"kind": kind, "nullable": bool(frame[name].isna().any())}
    return {"kind": "source", "columns": columns}


def chain_of(metadata: dict[str, Any], frame: pd.DataFrame) -> list[Step]:
    """The steps that made a table, from its artifact's metadata; a table without them is a raw source."""
    chain = metadata.get(CHAIN_KEY)
    return list(chain) if isinstance(chain, list) and chain else [source_step(frame)]


def apply_step(frame: pd.DataFrame, step: Step) -> pd.DataFrame:
    """One step on a table (the components' and the server's one implementation); absent columns
    (a label, at serving time) are skipped."""
    kind = step["kind"]
    if kind == "source":
        return frame
    if kind == "fill":
        present = {c: v for c, v in step["values"].items() if c in frame.columns}
        return frame.fillna(present) if present else frame
    if kind == "scale":
        frame = frame.copy()
        for column, fitted in step["columns"].items():
            if column in frame.columns:
                frame[column] = (frame[column].astype("float64") - fitted["centre"]) / fitted["scale"]
        return frame
    if kind == "encode":
        return _encode(frame, step["method"], step["categories"])
    if kind == "select":
        return frame[[c for c in step["columns"] if c in frame.columns]]
    if kind == "drop_rows":
        raise NotServable(f"{step.get('component', 'a step')} drops rows with missing values")
    raise NotServable(f"unknown step kind '{kind}'")


def categorical_values(values: pd.Series, categories: list[str]) -> pd.Series:
    """Text values as training saw them: missing → `missing`, unseen → `other`."""
    text = values.astype("string").fillna(MISSING)
    return text.where(text.isin(categories), OTHER)


def _encode(frame: pd.DataFrame, method: str, categories: dict[str, list[str]]) -> pd.DataFrame:
    frame = frame.copy()
    for column, known in categories.items():
        if column not in frame.columns:
            continue
        values = categorical_values(frame[column], known)
        if method == "ordinal":
            frame[column] = values.map({v: i for i, v in enumerate(known)}).fillna(-1).astype("int64")
            continue
        for value in known:
            frame[f"{column}={value}"] = (values == value).astype("int8")
        frame = frame.drop(columns=[column])
    return frame


def apply_steps(frame: pd.DataFrame, steps: list[Step]) -> pd.DataFrame:
    for step in steps:
        frame = apply_step(frame, step)
    return frame


@dataclass(frozen=True)
class InferencePipeline:
    """The steps from raw columns to a model's features, and the raw columns a request must carry."""

    steps: tuple[Step, ...]
    features: tuple[str, ...]  # the model's columns, in its order
    raw: FeatureSchema
    nullable: tuple[str, ...]
    choices: dict[str, list[str]]  # a categorical column's known values, for forms and metadata

    @classmethod
    def compose(cls, chain: list[Step], features: list[str], excluded: list[str]) -> InferencePipeline:
        """From a model's chain; `excluded` (label, drop_columns) are not asked of callers.

        Raises:
            NotServable: naming the first step that cannot run at serving time.
        """
        if not chain or chain[0].get("kind") != "source":
            raise NotServable("the model's training table has no recorded source columns")
        for step in chain[1:]:
            if step["kind"] == "drop_rows":
                raise NotServable(
                    f"{step.get('component', 'a step')} drops rows with missing values (strategy drop_rows), "
                    "and a request's row cannot be dropped"
                )
            if step["kind"] not in ("fill", "scale", "encode", "select"):
                raise NotServable(f"{step.get('component', step['kind'])} cannot run at serving time ({step['kind']})")
        needed = _raw_columns_used(chain, features)
        source = chain[0]["columns"]
        columns = tuple(c for c in source if c in needed and c not in excluded)
        choices: dict[str, list[str]] = {}
        for step in chain[1:]:
            if step["kind"] == "encode":
                choices |= {
                    c: [v for v in values if v not in (OTHER, MISSING)] for c, values in step["categories"].items()
                }
        return cls(
            steps=tuple(chain[1:]), features=tuple(features),
            raw=FeatureSchema(columns=columns, kinds=tuple(source[c]["kind"] for c in columns)),
            nullable=tuple(c for c in columns if source[c]["nullable"] or c in choices),
            choices={c: v for c, v in choices.items() if c in columns},
        )  # fmt: skip

    def as_text(self) -> str:
        return json.dumps(
            {"steps": list(self.steps), "features": list(self.features), "raw_columns": list(self.raw.columns),
             "raw_kinds": list(self.raw.kinds), "nullable": list(self.nullable), "choices": self.choices}
        )  # fmt: skip

    @classmethod
    def from_text(cls, text: str) -> InferencePipeline:
        value = json.loads(text)
        return cls(
            steps=tuple(value["steps"]), features=tuple(value["features"]),
            raw=FeatureSchema(tuple(value["raw_columns"]), tuple(value["raw_kinds"])),
            nullable=tuple(value["nullable"]), choices=value["choices"],
        )  # fmt: skip

    def features_of(self, records: list[Any]) -> np.ndarray:
        """Request rows (objects keyed by raw column) → the model's float matrix; 400s name the field."""
        frame = self.raw_frame(records)
        transformed = apply_steps(frame, list(self.steps))
        missing = [c for c in self.features if c not in transformed.columns]
        if missing:
            raise BadRequest(f"the inference pipeline did not produce the model's column '{missing[0]}'")
        matrix = transformed[list(self.features)].to_numpy(dtype=np.float64, na_value=np.nan)
        if np.isnan(matrix).any():
            i, j = np.argwhere(np.isnan(matrix))[0]
            raise BadRequest(f"instances[{i}]: '{self.features[j]}' is missing and training filled no value for it")
        return matrix

    def raw_frame(self, records: list[Any]) -> pd.DataFrame:
        columns = self.raw.columns
        for i, row in enumerate(records):
            if not isinstance(row, dict):
                raise BadRequest(f"instances[{i}] must be an object keyed by column ({self.raw.describe()})")
            for name in row:
                if name not in self.raw.columns:
                    raise BadRequest(
                        f"instances[{i}]: unknown column {quoted(name)}{did_you_mean(str(name)[:200], columns)}"
                    )
            absent = [c for c in columns if c not in row and c not in self.nullable]
            if absent:
                raise BadRequest(f"instances[{i}] is missing column '{absent[0]}' (it may be null, not left out)")
        frame = pd.DataFrame.from_records(records, columns=list(columns))
        for column, kind in zip(columns, self.raw.kinds, strict=True):
            frame[column] = _typed(frame[column], column, kind, column in self.nullable)
        return frame


def _raw_columns_used(chain: list[Step], features: list[str]) -> set[str]:
    """Source columns whose values reach the model's features (one-hot columns trace back to their source)."""
    wanted = set(features)
    for step in reversed(chain[1:]):
        if step["kind"] == "encode" and step["method"] == "onehot":
            for column, values in step["categories"].items():
                if any(f"{column}={v}" in wanted for v in values):
                    wanted |= {column}
    return wanted


def _typed(values: pd.Series, column: str, kind: str, nullable: bool) -> pd.Series:
    if not nullable and values.isna().any():
        raise BadRequest(f"column '{column}' is missing in a row, and training never saw it missing")
    if kind == "string":
        wrong = values.dropna().map(lambda v: not isinstance(v, str | int | float) or isinstance(v, bool))
        if wrong.any():
            raise BadRequest(f"column '{column}' takes text")
        return values.map(lambda v: v if v is None or isinstance(v, str) else str(v)).astype("object")
    plain = values.dropna().map(lambda v: isinstance(v, int | float) and (kind != "boolean" or isinstance(v, bool)))
    if not plain.all():
        raise BadRequest(f"column '{column}' takes {'true or false' if kind == 'boolean' else 'numbers'}")
    return values.astype("float64")


class RawInputPredictor:
    """An inference pipeline in front of a model's predictor: raw request rows in, the contract's outputs out."""

    def __init__(self, pipeline: InferencePipeline, inner: Predictor):
        self.pipeline = pipeline
        self.inner = inner
        self.adapter = inner.adapter
        self.contract: OutputContract = inner.contract

    def predict(self, rows: np.ndarray | list[Any]) -> Outputs:
        if isinstance(rows, np.ndarray):
            rows = [dict(zip(self.pipeline.raw.columns, row, strict=True)) for row in rows.tolist()]
        return self.inner.predict(self.pipeline.features_of(rows))
