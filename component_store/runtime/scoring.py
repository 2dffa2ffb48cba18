"""Batch scoring: a model from a workflow's artifacts, and the prediction columns it adds to a table.

The columns follow the serving contract: classifiers add the label (in the training labels' type) and
the positive class's probability (binary) or one probability column per class (multiclass); regressors
add the prediction; other MLflow models (pyfunc, e.g. train_torch_tabular's) add what `predict` returns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def load_model_input(model: Any) -> tuple[Any, str]:
    """The model behind an input artifact, and where it came from.

    A trainer's or tuner's `Model` is an MLflow model folder; register_model's `registered` names the
    version it registered (`models:/NAME/VERSION`), which is loaded from the workspace's registry.

    Raises:
        ValueError: when the artifact is neither.
    """
    import mlflow.pyfunc
    import mlflow.sklearn

    folder = Path(model.path)
    if (folder / "MLmodel").exists():
        flavor = model.metadata.get("flavor", "sklearn")
        loaded = (
            mlflow.sklearn.load_model(str(folder)) if flavor == "sklearn" else mlflow.pyfunc.load_model(str(folder))
        )
        return loaded, model.metadata.get("model_uri", str(folder))
    uri = model.metadata.get("model_uri", "")
    if uri.startswith("models:/"):
        from component_store.runtime.tracking import start_tracking

        start_tracking()
        flavors = mlflow.models.get_model_info(uri).flavors
        return (mlflow.sklearn.load_model(uri) if "sklearn" in flavors else mlflow.pyfunc.load_model(uri)), uri
    raise ValueError(
        "batch_predict: the model input is neither an MLflow model (from train_*, tune_optuna) nor a registered "
        "version (from register_model); connect one of those"
    )


def add_predictions(model: Any, frame: pd.DataFrame, features: list[str], column: str) -> pd.DataFrame:
    """`frame` with the prediction columns of `model` on `features` added (see the module docstring)."""
    from component_store.runtime.tables import require_columns

    require_columns(frame, features, "batch_predict")
    rows = frame[features].astype("float64")
    scored = frame.copy()
    if hasattr(model, "predict_proba") and hasattr(model, "classes_"):
        probabilities = model.predict_proba(rows)
        classes = np.asarray(model.classes_)
        scored[column] = classes[probabilities.argmax(axis=1)]
        if probabilities.shape[1] == 2:
            scored[f"{column}_probability"] = probabilities[:, 1]
        else:
            for k, label in enumerate(classes):
                scored[f"{column}_probability_{label}"] = probabilities[:, k]
        return scored
    predicted = np.asarray(model.predict(rows))
    if predicted.ndim == 2:
        for k in range(predicted.shape[1]):
            scored[f"{column}_{k}"] = predicted[:, k]
    else:
        scored[column] = predicted
    return scored


def model_features(model: Any, metadata: dict[str, Any]) -> list[str]:
    """The columns a model was trained on, in order: from the estimator, else the artifact's metadata or signature."""
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        return [str(n) for n in names]
    if metadata.get("features"):
        return list(metadata["features"])
    signature = getattr(getattr(model, "metadata", None), "signature", None)
    if signature is not None and signature.inputs is not None:
        return list(signature.inputs.input_names())
    raise ValueError("batch_predict: cannot tell which columns the model takes (no feature names, no signature)")
