"""Request bodies -> a numeric matrix in the model's column order, or a 4xx that names the field.

Pure functions, no web framework: the model server calls them, the fuzz tests call them directly.
Every refusal is a `BadRequest` whose message names the field and the fix and never echoes the
payload (a request may carry personal data; logs and error bodies must not).

Accepted shapes:

- V1 (`/v1/models/NAME:predict`): `{"instances": [[...], ...]}` (values in the model's column
  order, optionally named by a top-level `"columns"` list) or `{"instances": [{"col": v, ...}]}`.
- V2 (`/v2/models/NAME/infer`): one tensor input of shape `[rows, features]`, or one input per
  column (name = column, shape `[rows]` or `[rows, 1]`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import orjson

from tessera.suggest import did_you_mean

NUMERIC_KINDS = frozenset({"double", "float", "long", "integer"})
INTEGER_KINDS = frozenset({"long", "integer"})
V2_NUMERIC_TYPES = frozenset({"FP64", "FP32", "FP16", "INT64", "INT32", "INT16", "INT8", "UINT64", "UINT32", "UINT8"})
_PLAIN_NUMBERS = frozenset({int, float})


MAX_ERROR_CHARS = 2000
MAX_QUOTED_CHARS = 64


class BadRequest(Exception):
    """A request the server refuses; `status` is the HTTP code (400, 404, 413 or 415). The message is capped."""

    def __init__(self, message: str, status: int = 400):
        message = message if len(message) <= MAX_ERROR_CHARS else message[: MAX_ERROR_CHARS - 1] + "…"
        super().__init__(message)
        self.message = message
        self.status = status


def quoted(text: Any) -> str:
    """A short, printable fragment of something a client sent, quoted: errors never echo more than this."""
    value = "".join(ch if ch.isprintable() else "?" for ch in str(text)[: MAX_QUOTED_CHARS + 1])
    return f"'{value[:MAX_QUOTED_CHARS]}…'" if len(value) > MAX_QUOTED_CHARS else f"'{value}'"


@dataclass(frozen=True)
class FeatureSchema:
    """The model's input columns in order, with their MLflow kinds (`double`, `long`, `boolean`, ...)."""

    columns: tuple[str, ...]
    kinds: tuple[str, ...]

    @property
    def width(self) -> int:
        return len(self.columns)

    @cached_property  # read on every request
    def numeric(self) -> bool:
        """Every column is a number or a boolean: requests can be decoded into a float matrix."""
        return all(kind in NUMERIC_KINDS or kind == "boolean" for kind in self.kinds)

    def describe(self, limit: int = 6) -> str:
        shown = ", ".join(self.columns[:limit])
        return shown + (f", … ({self.width} in all)" if self.width > limit else "")


def parse_json(body: bytes) -> Any:
    """Decode a request body; malformed JSON (NaN literals included) is a 400 with the position."""
    if not body:
        raise BadRequest("request body is empty: send a JSON object")
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise BadRequest(f"request body is not valid JSON ({where}); NaN and Infinity are not JSON") from None


def decode_v1(payload: Any, schema: FeatureSchema, max_rows: int) -> np.ndarray:
    """V1 `instances` (lists or records) -> float64 matrix `rows x schema.width` in schema order.

    Example:
        >>> s = FeatureSchema(("a", "b"), ("double", "double"))
        >>> decode_v1({"instances": [{"b": 2, "a": 1}]}, s, 10).tolist()
        [[1.0, 2.0]]
    """
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object with an 'instances' list")
    unknown = set(payload) - {"instances", "columns", "parameters"}
    if unknown:
        name = sorted(unknown)[0]
        raise BadRequest(
            f"unknown field {quoted(name)}{did_you_mean(str(name)[:200], ['instances', 'columns', 'parameters'])}"
        )
    if "instances" not in payload:
        raise BadRequest("missing field 'instances': send {\"instances\": [[...], ...]}")
    instances = payload["instances"]
    _check_batch("instances", instances, max_rows)
    if "columns" in payload:
        _check_column_names(payload["columns"], schema)
    if isinstance(instances[0], dict):
        rows = [_record_values(i, row, schema) for i, row in enumerate(instances)]
    else:
        rows = instances
        for i, row in enumerate(rows):
            if not isinstance(row, list):
                raise BadRequest(
                    f"instances[{i}] must be a list of {schema.width} values or an object keyed by column, "
                    "like the first instance"
                )
            if len(row) != schema.width:
                raise BadRequest(
                    f"instances[{i}] has {len(row)} values; the model expects {schema.width} ({schema.describe()})"
                )
    return _to_matrix(rows, schema, lambda i, j: f"instances[{i}] column '{schema.columns[j]}'")


def decode_v2(payload: Any, schema: FeatureSchema, max_rows: int) -> np.ndarray:
    """V2 `inputs` (one `[rows, features]` tensor, or one tensor per column) -> float64 matrix."""
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object with an 'inputs' list")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest("field 'inputs' must be a non-empty list of tensors {name, shape, datatype, data}")
    for k, tensor in enumerate(inputs):
        _check_tensor(k, tensor)
    by_column = len(inputs) > 1 or inputs[0]["name"] in schema.columns and schema.width > 1
    if not by_column:
        return _single_tensor(inputs[0], schema, max_rows)
    return _tensor_per_column(inputs, schema, max_rows)


def decode_v2_records(payload: Any, max_rows: int) -> list[dict[str, Any]]:
    """V2 `inputs`, one tensor per column (BYTES for text), -> one object per row keyed by column, for
    endpoints that take raw, text or id columns (the predictor checks the names and kinds).

    Example:
        >>> decode_v2_records({"inputs": [{"name": "id", "shape": [1], "datatype": "INT64", "data": [7]}]}, 10)
        [{'id': 7}]
    """
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object with an 'inputs' list")
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise BadRequest(
            "field 'inputs' must be a non-empty list of tensors {name, shape, datatype, data}, one per column"
        )
    by_name = _column_tensors(inputs, max_rows, text=True)
    return [dict(zip(by_name, values, strict=True)) for values in zip(*by_name.values(), strict=True)]


def decoded_rows(
    payload: Any, protocol: str, schema: FeatureSchema | None, takes_matrix: bool, max_rows: int
) -> tuple[Any, tuple[str, ...] | None]:
    """(the rows a request's payload decodes to, their columns when the rows are a float matrix): what a
    model of this schema is asked to score, and what the prediction log keeps of the request.

    Example:
        >>> s = FeatureSchema(("a", "b"), ("double", "double"))
        >>> decoded_rows({"instances": [[1, 2]]}, "v1", s, True, 10)[0].tolist()
        [[1.0, 2.0]]
    """
    if takes_matrix:  # numeric signatures: a float matrix in signature order
        assert schema is not None
        decode = decode_v1 if protocol == "v1" else decode_v2
        return decode(payload, schema, max_rows), schema.columns
    if protocol == "v2":  # raw, text or id columns: one tensor per column
        return decode_v2_records(payload, max_rows), None
    if not isinstance(payload, dict) or not isinstance(payload.get("instances"), list) or not payload["instances"]:
        raise BadRequest("request body must be a JSON object with a non-empty 'instances' list")
    if len(payload["instances"]) > max_rows:
        raise BadRequest(f"batch of {len(payload['instances'])} rows is over this endpoint's limit of {max_rows}", 413)
    return payload["instances"], None


def _check_batch(field: str, rows: Any, max_rows: int) -> None:
    if not isinstance(rows, list):
        raise BadRequest(f"'{field}' must be a list of rows")
    if not rows:
        raise BadRequest(f"'{field}' is empty: send at least one row")
    if len(rows) > max_rows:
        raise BadRequest(f"batch of {len(rows)} rows is over this endpoint's limit of {max_rows}; split it", 413)


def _check_column_names(columns: Any, schema: FeatureSchema) -> None:
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise BadRequest("'columns' must be a list of column names")
    _check_same_columns(columns, schema, "columns")
    for given, expected in zip(columns, schema.columns, strict=True):
        if given != expected:
            raise BadRequest(
                f"'columns' are in a different order than the model expects: '{expected}' must come where "
                f"'{given}' is; send them in this order: {schema.describe(limit=len(schema.columns))}"
            )


def _check_same_columns(given: list[str], schema: FeatureSchema, where: str) -> None:
    expected = set(schema.columns)
    for name in given:
        if name not in expected:
            raise BadRequest(f"{where}: unknown column {quoted(name)}{did_you_mean(str(name)[:200], schema.columns)}")
    missing = [c for c in schema.columns if c not in set(given)]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise BadRequest(f"{where}: missing column '{missing[0]}'{more}")
    if len(given) != len(set(given)):
        duplicate = next(c for c in given if given.count(c) > 1)
        raise BadRequest(f"{where}: column {quoted(duplicate)} appears twice")


def _record_values(i: int, row: Any, schema: FeatureSchema) -> list[Any]:
    if not isinstance(row, dict):
        raise BadRequest(f"instances[{i}] must be an object keyed by column, like the first instance")
    if len(row) != schema.width or not all(c in row for c in schema.columns):
        _check_same_columns(list(row), schema, f"instances[{i}]")
    return [row[c] for c in schema.columns]


def _to_matrix(rows: list[list[Any]], schema: FeatureSchema, where: Any) -> np.ndarray:
    value_types = set(map(type, itertools.chain.from_iterable(rows)))
    all_numeric = all(kind in NUMERIC_KINDS for kind in schema.kinds)
    if not (all_numeric and value_types <= _PLAIN_NUMBERS):
        _check_value_types(rows, schema, where)
    try:
        matrix = np.array(rows, dtype=np.float64)
    except OverflowError:
        raise BadRequest("a value is too large for a 64-bit float") from None
    if not np.isfinite(matrix).all():
        i, j = np.argwhere(~np.isfinite(matrix))[0]
        raise BadRequest(f"{where(i, j)} is not a finite number")
    integer_columns = [j for j, kind in enumerate(schema.kinds) if kind in INTEGER_KINDS]
    if integer_columns:
        part = matrix[:, integer_columns]
        fractional = np.argwhere(part != np.floor(part))
        if len(fractional):
            i, k = fractional[0]
            raise BadRequest(f"{where(i, integer_columns[k])} must be a whole number")
    return matrix


def _check_value_types(rows: list[list[Any]], schema: FeatureSchema, where: Any) -> None:
    for i, row in enumerate(rows):
        for j, (value, kind) in enumerate(zip(row, schema.kinds, strict=True)):
            if kind == "boolean":
                if type(value) is not bool:
                    raise BadRequest(f"{where(i, j)} must be true or false, got {_json_type(value)}")
            elif kind in NUMERIC_KINDS:
                if type(value) not in _PLAIN_NUMBERS:
                    raise BadRequest(f"{where(i, j)} must be a number, got {_json_type(value)}")
            else:
                raise BadRequest(f"column '{schema.columns[j]}' has kind '{kind}', which this endpoint cannot decode")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        str: "a string",
        list: "a list",
        dict: "an object",
        int: "a number",
        float: "a number",
    }.get(type(value), "another type")


def _check_tensor(k: int, tensor: Any, text: bool = False) -> None:
    if not isinstance(tensor, dict):
        raise BadRequest(f"inputs[{k}] must be an object {{name, shape, datatype, data}}")
    for key in ("name", "shape", "datatype", "data"):
        if key not in tensor:
            raise BadRequest(f"inputs[{k}] is missing '{key}'")
    shape = tensor["shape"]
    if not isinstance(shape, list) or not shape or not all(type(d) is int and d >= 0 for d in shape):
        raise BadRequest(f"inputs[{k}].shape must be a list of non-negative integers")
    if text and tensor["datatype"] == "BYTES":
        pass
    elif tensor["datatype"] not in V2_NUMERIC_TYPES and tensor["datatype"] != "BOOL":
        raise BadRequest(
            f"inputs[{k}].datatype {quoted(tensor['datatype'])} is not supported here; use FP64, FP32, INT64, INT32 or BOOL"
        )
    if not isinstance(tensor["data"], list):
        raise BadRequest(f"inputs[{k}].data must be a list")


def _flat(k: int, tensor: dict[str, Any]) -> list[Any]:
    data = tensor["data"]
    while data and isinstance(data[0], list):
        if not all(isinstance(part, list) for part in data):
            raise BadRequest(f"inputs[{k}].data mixes lists and values")
        data = list(itertools.chain.from_iterable(data))
    expected = math.prod(tensor["shape"])
    if len(data) != expected:
        raise BadRequest(
            f"inputs[{k}] has shape {quoted(tensor['shape'])}, which needs {expected} values, but data has {len(data)}"
        )
    _check_datatype(k, tensor["datatype"], data)
    return data


def _check_datatype(k: int, datatype: str, data: list[Any]) -> None:
    """The values must be of the tensor's declared datatype: whole numbers for INT*, true/false for BOOL."""
    if datatype == "BOOL":
        wrong = next((v for v in data if type(v) is not bool), None)
        if wrong is not None:
            raise BadRequest(f"inputs[{k}] is BOOL but holds {_json_type(wrong)}: send true or false")
    elif datatype == "BYTES":
        wrong = next((v for v in data if type(v) is not str), None)
        if wrong is not None:
            raise BadRequest(f"inputs[{k}] is BYTES but holds {_json_type(wrong)}: send text")
    elif datatype.startswith(("INT", "UINT")):
        wrong = next((v for v in data if type(v) is not int), None)
        if wrong is not None:
            kind = "a fraction" if isinstance(wrong, float) else _json_type(wrong)
            raise BadRequest(f"inputs[{k}] is {datatype} but holds {kind}: send whole numbers or say FP64")
        if datatype.startswith("UINT") and any(v < 0 for v in data):
            raise BadRequest(f"inputs[{k}] is {datatype} but holds a negative number")


def _single_tensor(tensor: dict[str, Any], schema: FeatureSchema, max_rows: int) -> np.ndarray:
    shape = tensor["shape"]
    if len(shape) == 1 and schema.width > 1:
        shape = [1, shape[0]]
    if len(shape) != 2 and not (len(shape) == 1 and schema.width == 1):
        raise BadRequest(f"inputs[0].shape must be [rows, {schema.width}], got {quoted(tensor['shape'])}")
    rows, width = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], 1)
    if width != schema.width:
        raise BadRequest(
            f"inputs[0] has {width} features per row; the model expects {schema.width} ({schema.describe()})"
        )
    data = _flat(0, tensor)
    if rows == 0:
        raise BadRequest("inputs[0] is empty: send at least one row")
    if rows > max_rows:
        raise BadRequest(f"batch of {rows} rows is over this endpoint's limit of {max_rows}; split it", 413)
    matrix_rows = [data[r * width : (r + 1) * width] for r in range(rows)]
    return _to_matrix(matrix_rows, schema, lambda i, j: f"inputs[0] row {i} column '{schema.columns[j]}'")


def _tensor_per_column(inputs: list[dict[str, Any]], schema: FeatureSchema, max_rows: int) -> np.ndarray:
    names = [tensor["name"] for tensor in inputs]
    _check_same_columns(names, schema, "inputs")
    by_name = _column_tensors(inputs, max_rows)
    columns = [by_name[c] for c in schema.columns]
    matrix_rows = [list(values) for values in zip(*columns, strict=True)]
    return _to_matrix(matrix_rows, schema, lambda i, j: f"inputs '{schema.columns[j]}' row {i}")


def _column_tensors(inputs: list[Any], max_rows: int, text: bool = False) -> dict[str, list[Any]]:
    """One tensor per column -> column name to its values; every column the same number of rows."""
    by_name: dict[str, list[Any]] = {}
    for k, tensor in enumerate(inputs):
        _check_tensor(k, tensor, text=text)
        shape = tensor["shape"]
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise BadRequest(
                f"inputs[{k}] ({quoted(tensor['name'])}) must have shape [rows] or [rows, 1], got {quoted(shape)}"
            )
        if not isinstance(tensor["name"], str) or tensor["name"] in by_name:
            raise BadRequest(f"inputs[{k}] needs a name of its own: the column it carries")
        by_name[tensor["name"]] = _flat(k, tensor)
    counts = {len(values) for values in by_name.values()}
    if len(counts) > 1:
        raise BadRequest(
            f"inputs have different row counts: {sorted(counts)}; every column needs the same number of rows"
        )
    rows = counts.pop()
    if rows == 0:
        raise BadRequest("inputs are empty: send at least one row")
    if rows > max_rows:
        raise BadRequest(f"batch of {rows} rows is over this endpoint's limit of {max_rows}; split it", 413)
    return by_name
