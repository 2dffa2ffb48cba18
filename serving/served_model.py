"""One registered model version loaded for serving: the native fast path, or MLflow pyfunc.

`load_served_model("cheater-detector", "3")` reads the version's MLmodel (flavours + signature).
When the signature names only numeric/boolean columns and the flavour is scikit-learn, requests
are decoded straight into a numpy matrix in signature order and handed to the estimator itself
(MLflow's pyfunc path builds a DataFrame and casts column by column, ≈3 ms a request). Anything
else is served through pyfunc, which enforces the signature itself; V2 requests to a pyfunc
model with a numeric signature (e.g. train_torch_tabular's) are decoded the same way first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from serving.payloads import INTEGER_KINDS, BadRequest, FeatureSchema

Outputs = dict[str, np.ndarray]


@dataclass(frozen=True)
class ServedModel:
    """A loaded version. `predict_matrix` is set on the fast path, `predict_records` otherwise."""

    model_name: str
    version: str
    flavour: str
    schema: FeatureSchema | None
    predict_matrix: Callable[[np.ndarray], Outputs] | None = None
    predict_records: Callable[[list[Any] | np.ndarray], Outputs] | None = None

    @property
    def fast(self) -> bool:
        return self.predict_matrix is not None

    @property
    def label(self) -> str:
        return f"{self.model_name}/{self.version}"

    @cached_property
    def outputs(self) -> list[dict[str, Any]]:
        """What infer returns, as V2 metadata describes it: each output's name, datatype and shape.

        Found by asking the model itself once (a row of zeros), so the metadata can never disagree with
        the answers: a classifier's `predictions` carry its labels' type and `probabilities` one column
        per class (one for a binary model); a regressor answers `predictions` only.
        """
        if self.schema is None or not self.schema.numeric:
            return [{"name": "predictions", "datatype": "BYTES", "shape": [-1]}]  # pyfunc decides; not probed
        predict = self.predict_matrix or self.predict_records
        assert predict is not None
        answered = predict(np.zeros((1, self.schema.width)))
        return [
            {
                "name": name,
                "datatype": tensor_datatype(np.asarray(values)),
                "shape": [-1, *np.asarray(values).shape[1:]],
            }
            for name, values in answered.items()
        ]


V2_DATATYPES = {"i": "INT64", "u": "UINT64", "f": "FP64", "b": "BOOL"}


def tensor_datatype(array: np.ndarray) -> str:
    """The V2 datatype an answer's array is sent as (text labels are BYTES)."""
    return V2_DATATYPES.get(array.dtype.kind, "BYTES")


def feature_schema(signature: Any) -> FeatureSchema | None:
    """Column names and kinds from an MLflow signature; None when the inputs are unnamed tensors."""
    if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
        return None
    specs = signature.inputs.inputs
    try:
        kinds = tuple(spec.type.name for spec in specs)
    except AttributeError:  # tensor specs carry a numpy dtype, not an MLflow column type
        return None
    return FeatureSchema(columns=tuple(spec.name for spec in specs), kinds=kinds)


def load_served_model(model_name: str, version: str) -> ServedModel:
    """Load `models:/model_name/version` from the active MLflow tracking store."""
    import mlflow

    uri = f"models:/{model_name}/{version}"
    info = mlflow.models.get_model_info(uri)
    schema = feature_schema(info.signature)
    if schema is not None and schema.numeric and "sklearn" in info.flavors:
        import mlflow.sklearn

        estimator = mlflow.sklearn.load_model(uri)
        return ServedModel(model_name, version, "sklearn", schema, predict_matrix=sklearn_predictor(estimator))
    pyfunc = mlflow.pyfunc.load_model(uri)
    return ServedModel(model_name, version, "pyfunc", schema, predict_records=pyfunc_predictor(pyfunc, schema))


def sklearn_predictor(estimator: Any) -> Callable[[np.ndarray], Outputs]:
    """Labels and class probabilities from one `predict_proba` call (classifiers), values otherwise;
    scaled linear models are computed in numpy directly (see `linear_kernels`)."""
    from serving.linear_kernels import linear_kernel

    kernel = linear_kernel(estimator)
    if kernel is not None:
        return kernel
    if hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"):
        classes = np.asarray(estimator.classes_)

        def classify(matrix: np.ndarray) -> Outputs:
            probabilities = estimator.predict_proba(matrix)
            labels = classes[probabilities.argmax(axis=1)]
            positive = probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities
            return {"predictions": labels, "probabilities": positive}

        return classify
    return lambda matrix: {"predictions": np.asarray(estimator.predict(matrix))}


def typed_frame(matrix: np.ndarray, schema: FeatureSchema) -> Any:
    """A float matrix in signature order as a DataFrame with the signature's column types
    (MLflow refuses floats for integer columns); a fraction in an integer column is a 400."""
    import pandas as pd

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


def pyfunc_predictor(pyfunc: Any, schema: FeatureSchema | None) -> Callable[[list[Any] | np.ndarray], Outputs]:
    """Rows (records, or lists in signature order) -> pyfunc predictions; MLflow's schema errors become 400s."""
    import pandas as pd
    from mlflow.exceptions import MlflowException

    def predict(rows: list[Any] | np.ndarray) -> Outputs:
        if isinstance(rows, np.ndarray):  # a V2 request decoded in signature order
            assert schema is not None
            frame = typed_frame(rows, schema)
        elif rows and isinstance(rows[0], list):
            if schema is None:
                raise BadRequest("this model's signature has no column names: send instances as objects")
            frame = pd.DataFrame(rows, columns=list(schema.columns))
        else:
            frame = pd.DataFrame.from_records(rows)
        try:
            result = pyfunc.predict(frame)
        except (MlflowException, ValueError, TypeError, KeyError) as exc:
            # MLflow's messages quote the data; say what kind of refusal it was, never what was sent.
            raise BadRequest(
                f"the model refused the input ({type(exc).__name__}): check column names and types against the "
                "model's metadata (GET /v2/models/NAME)"
            ) from None
        return {"predictions": np.asarray(result)}

    return predict
