"""One output contract for every served model, and the adapters that keep it.

The contract, whatever library made the model:

- a classifier answers `predictions` (one label per row, in the training labels' type) and
  `probabilities` (one column per class, in `classes` order: two columns for a binary model);
- a regressor answers `predictions` (one float per row).

`OutputContract` is the one place that builds those answers and describes them (V2 metadata,
OpenAPI), so what an endpoint says it returns is what it returns. A version's contract is
written into its MLmodel's metadata when Tessera logs it (`contract_metadata`); versions logged
before that get one from the estimator itself. Adapters (each a `Predictor`):

- `CompiledPredictor` (serving/compiled.py): the model converted to ONNX, run by ONNX Runtime;
- `NativePredictor`: the scikit-learn-API estimator itself (LightGBM and XGBoost included);
- `PyfuncPredictor`: MLflow pyfunc (torch and anything else), whose classifiers return
  probabilities (P(second class) for a binary model, one column per class otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np

from serving.payloads import INTEGER_KINDS, BadRequest, FeatureSchema

Outputs = dict[str, np.ndarray]
Rows = np.ndarray | list[Any]
METADATA_KEY = "tessera"
V2_DATATYPES = {"i": "INT64", "u": "UINT64", "f": "FP64", "b": "BOOL"}


def tensor_datatype(array: np.ndarray) -> str:
    """The V2 datatype an answer's array is sent as (text labels are BYTES)."""
    return V2_DATATYPES.get(array.dtype.kind, "BYTES")


@dataclass(frozen=True)
class OutputContract:
    """What a model answers. `classes` is empty for a regressor.

    Example:
        >>> c = OutputContract("classification", (0, 1))
        >>> c.classify(np.array([0.2, 0.9]))["predictions"].tolist()
        [0, 1]
        >>> [o["name"] for o in c.describe()]
        ['predictions', 'probabilities']
    """

    task: Literal["classification", "regression"]
    classes: tuple[Any, ...] = ()

    @property
    def labels(self) -> np.ndarray:
        return np.asarray(self.classes)

    def classify(self, probabilities: Any) -> Outputs:
        """Labels and a probability per class from probabilities (P(second class) alone for binary)."""
        matrix = np.asarray(probabilities, dtype=np.float64)
        if matrix.ndim == 1:
            matrix = np.column_stack([1.0 - matrix, matrix])
        if matrix.shape[1] != len(self.classes):
            raise ValueError(f"the model gave {matrix.shape[1]} probability columns for {len(self.classes)} classes")
        return {"predictions": self.labels[matrix.argmax(axis=1)], "probabilities": matrix}

    def regress(self, values: Any) -> Outputs:
        return {"predictions": np.asarray(values, dtype=np.float64).reshape(-1)}

    def describe(self) -> list[dict[str, Any]]:
        """The outputs as V2 metadata lists them: name, datatype and shape."""
        if self.task == "regression":
            return [{"name": "predictions", "datatype": "FP64", "shape": [-1]}]
        return [
            {"name": "predictions", "datatype": tensor_datatype(self.labels), "shape": [-1]},
            {"name": "probabilities", "datatype": "FP64", "shape": [-1, len(self.classes)]},
        ]

    def as_metadata(self) -> dict[str, Any]:
        return {"task": self.task, "classes": [_plain(c) for c in self.classes]}


def contract_metadata(task: str, classes: Any = ()) -> dict[str, Any]:
    """What Tessera writes into an MLmodel's `metadata` when it logs a model."""
    return {METADATA_KEY: OutputContract(task, tuple(_plain(c) for c in classes)).as_metadata()}  # type: ignore[arg-type]


def contract_from_metadata(metadata: dict[str, Any] | None) -> OutputContract | None:
    """The contract a version's MLmodel metadata states, or None for versions logged without one."""
    stated = (metadata or {}).get(METADATA_KEY)
    if not isinstance(stated, dict) or stated.get("task") not in ("classification", "regression"):
        return None
    return OutputContract(stated["task"], tuple(stated.get("classes") or ()))


def contract_of_estimator(estimator: Any) -> OutputContract:
    """A scikit-learn-API estimator's contract: a classifier when it has `classes_` and `predict_proba`."""
    if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
        return OutputContract("classification", tuple(np.asarray(estimator.classes_).tolist()))
    return OutputContract("regression")


class Predictor(Protocol):
    """Rows in signature order (a float matrix for numeric signatures, records otherwise) -> contract outputs."""

    adapter: str  # "compiled", "native" or "pyfunc"
    contract: OutputContract

    def predict(self, rows: Rows) -> Outputs: ...


class NativePredictor:
    """The estimator itself: `predict_proba` for a classifier, `predict` for a regressor."""

    adapter = "native"

    def __init__(self, estimator: Any, contract: OutputContract, schema: FeatureSchema | None):
        self.estimator = estimator
        self.contract = contract
        self.schema = schema

    def predict(self, rows: Rows) -> Outputs:
        features = rows if isinstance(rows, np.ndarray) else records_frame(rows, self.schema)
        if self.contract.task == "classification":
            return self.contract.classify(self.estimator.predict_proba(features))
        return self.contract.regress(self.estimator.predict(features))


class PyfuncPredictor:
    """An MLflow pyfunc model; its schema errors become 400s that never quote the data."""

    adapter = "pyfunc"

    def __init__(self, pyfunc: Any, contract: OutputContract | None, schema: FeatureSchema | None):
        self.pyfunc = pyfunc
        self.contract = contract or OutputContract("regression")
        self.stated = contract is not None
        self.schema = schema

    def predict(self, rows: Rows) -> Outputs:
        from mlflow.exceptions import MlflowException

        frame = typed_frame(rows, self.schema) if isinstance(rows, np.ndarray) else records_frame(rows, self.schema)
        try:
            result = np.asarray(self.pyfunc.predict(frame))
        except (MlflowException, ValueError, TypeError, KeyError) as exc:
            # MLflow's messages quote the data; say what kind of refusal it was, never what was sent.
            raise BadRequest(
                f"the model refused the input ({type(exc).__name__}): check column names and types against the "
                "model's metadata (GET /v2/models/NAME)"
            ) from None
        if not self.stated:  # logged without a contract: its answer, as it gave it
            return {"predictions": result}
        if self.contract.task == "classification":
            return self.contract.classify(result)
        return self.contract.regress(result)


def records_frame(rows: list[Any], schema: FeatureSchema | None) -> Any:
    """V1 instances (objects, or lists in signature order) as a DataFrame."""
    import pandas as pd

    if rows and isinstance(rows[0], list):
        if schema is None:
            raise BadRequest("this model's signature has no column names: send instances as objects")
        return pd.DataFrame(rows, columns=list(schema.columns))
    return pd.DataFrame.from_records(rows)


def typed_frame(matrix: np.ndarray, schema: FeatureSchema | None) -> Any:
    """A float matrix in signature order as a DataFrame with the signature's column types
    (MLflow refuses floats for integer columns); a fraction in an integer column is a 400."""
    import pandas as pd

    if schema is None:
        return pd.DataFrame(matrix)
    frame = pd.DataFrame(matrix, columns=list(schema.columns))
    for column, kind in zip(schema.columns, schema.kinds, strict=True):
        if kind in INTEGER_KINDS:
            if not np.array_equal(frame[column], np.round(frame[column])):
                raise BadRequest(f"column '{column}' takes whole numbers")
            frame[column] = frame[column].astype("int64" if kind == "long" else "int32")
        elif kind == "boolean":
            frame[column] = frame[column].astype(bool)
        elif kind == "float":
            frame[column] = frame[column].astype("float32")
    return frame


def _plain(value: Any) -> Any:
    """A class label as JSON has it (numpy scalars are not JSON)."""
    return value.item() if hasattr(value, "item") else value
