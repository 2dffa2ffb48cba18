"""Model families, metrics and search spaces for the train, tune and evaluate components.

Every check here runs before any training, so a bad request fails in milliseconds with
a message that names the parameter and what is allowed.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

BOOSTERS = ("lightgbm", "xgboost")  # gradient-boosted trees from their own libraries (scikit-learn API)
FAMILIES: dict[str, tuple[str, ...]] = {
    "classification": ("logistic", "random_forest", "gradient_boosting", "hist_gradient_boosting", *BOOSTERS),
    "regression": ("linear", "random_forest", "gradient_boosting", "hist_gradient_boosting", *BOOSTERS),
}
METRICS: dict[str, dict[str, bool]] = {  # metric -> greater is better
    "classification": {"roc_auc": True, "average_precision": True, "f1": True, "accuracy": True, "log_loss": False},
    "regression": {"rmse": False, "mae": False, "r2": True},
}
# Hyper-parameters each family accepts (and what the train components expose).
FAMILY_PARAMS: dict[str, tuple[str, ...]] = {
    "logistic": ("C",),
    "linear": ("alpha",),
    "random_forest": ("n_estimators", "max_depth", "min_samples_leaf"),
    "gradient_boosting": ("n_estimators", "learning_rate", "max_depth"),
    "hist_gradient_boosting": ("learning_rate", "max_iter", "max_depth", "l2_regularization"),
    "lightgbm": ("n_estimators", "learning_rate", "num_leaves", "max_depth", "min_child_samples", "subsample",
                 "colsample_bytree", "reg_lambda"),
    "xgboost": ("n_estimators", "learning_rate", "max_depth", "min_child_weight", "subsample", "colsample_bytree",
                "reg_lambda"),
}  # fmt: skip
SEARCH_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "logistic": {"C": {"type": "float", "low": 1e-3, "high": 1e2, "log": True}},
    "linear": {"alpha": {"type": "float", "low": 1e-3, "high": 1e2, "log": True}},
    "random_forest": {
        "n_estimators": {"type": "int", "low": 50, "high": 400},
        "max_depth": {"type": "int", "low": 2, "high": 16},
        "min_samples_leaf": {"type": "int", "low": 1, "high": 20},
    },
    "gradient_boosting": {
        "n_estimators": {"type": "int", "low": 50, "high": 300},
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        "max_depth": {"type": "int", "low": 2, "high": 6},
    },
    "hist_gradient_boosting": {
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        "max_iter": {"type": "int", "low": 50, "high": 400},
        "max_depth": {"type": "int", "low": 2, "high": 12},
        "l2_regularization": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
    },
    "lightgbm": {
        "n_estimators": {"type": "int", "low": 50, "high": 500},
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        "num_leaves": {"type": "int", "low": 8, "high": 128, "log": True},
        "min_child_samples": {"type": "int", "low": 5, "high": 100, "log": True},
        "subsample": {"type": "float", "low": 0.5, "high": 1.0},
        "colsample_bytree": {"type": "float", "low": 0.5, "high": 1.0},
        "reg_lambda": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
    },
    "xgboost": {
        "n_estimators": {"type": "int", "low": 50, "high": 500},
        "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
        "max_depth": {"type": "int", "low": 2, "high": 10},
        "min_child_weight": {"type": "float", "low": 0.1, "high": 20.0, "log": True},
        "subsample": {"type": "float", "low": 0.5, "high": 1.0},
        "colsample_bytree": {"type": "float", "low": 0.5, "high": 1.0},
        "reg_lambda": {"type": "float", "low": 1e-6, "high": 10.0, "log": True},
    },
}


def _hint(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_request(task: str, family: str, metric: str | None = None, params: dict[str, Any] | None = None) -> None:
    """Raise ValueError naming the problem when a family, metric or hyper-parameter does not fit the task."""
    families = list(FAMILIES.get(task, ()))
    if not families:
        raise ValueError(f"unknown task '{task}'; use classification or regression")
    if family not in families:
        raise ValueError(
            f"model family '{family}' does not fit {task}{_hint(family, families)}; use one of {', '.join(families)}"
        )
    if metric is not None and metric not in METRICS[task]:
        other = "regression" if task == "classification" else "classification"
        where = f" (it is a {other} metric)" if metric in METRICS[other] else _hint(metric, list(METRICS[task]))
        raise ValueError(f"metric '{metric}' does not fit {task}{where}; use one of {', '.join(METRICS[task])}")
    for name in params or {}:
        if name not in FAMILY_PARAMS[family]:
            raise ValueError(
                f"'{name}' is not a hyper-parameter of {family}{_hint(name, list(FAMILY_PARAMS[family]))}; "
                f"it takes {', '.join(FAMILY_PARAMS[family])}"
            )


def build_estimator(task: str, family: str, params: dict[str, Any], class_weight: str = "none", seed: int = 42) -> Any:
    """A scikit-learn estimator (linear models standardise inside their pipeline)."""
    from sklearn import ensemble, linear_model
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_request(task, family, params=params)
    weight = None if class_weight == "none" else class_weight
    if family == "logistic":
        return make_pipeline(
            StandardScaler(),
            linear_model.LogisticRegression(max_iter=2000, class_weight=weight, random_state=seed, **params),
        )
    if family == "linear":
        return make_pipeline(StandardScaler(), linear_model.Ridge(random_state=seed, **params))
    if family in BOOSTERS:
        return _booster(task, family, params, weight, seed)
    classes = {
        ("classification", "random_forest"): ensemble.RandomForestClassifier,
        ("classification", "gradient_boosting"): ensemble.GradientBoostingClassifier,
        ("classification", "hist_gradient_boosting"): ensemble.HistGradientBoostingClassifier,
        ("regression", "random_forest"): ensemble.RandomForestRegressor,
        ("regression", "gradient_boosting"): ensemble.GradientBoostingRegressor,
        ("regression", "hist_gradient_boosting"): ensemble.HistGradientBoostingRegressor,
    }
    extra: dict[str, Any] = {"random_state": seed}
    if task == "classification" and family in ("random_forest", "hist_gradient_boosting"):
        extra["class_weight"] = weight
    if family == "random_forest":
        extra["n_jobs"] = 1
    return classes[(task, family)](**params, **extra)


def _booster(task: str, family: str, params: dict[str, Any], class_weight: str | None, seed: int) -> Any:
    """LightGBM or XGBoost through its scikit-learn API: one thread (workers parallelise), seeded, quiet."""
    if family == "lightgbm":
        import lightgbm

        if params.get("subsample", 1.0) < 1.0:
            params = {**params, "subsample_freq": 1}  # LightGBM ignores subsample unless bagging is on
        if task == "classification":
            return lightgbm.LGBMClassifier(class_weight=class_weight, random_state=seed, n_jobs=1, verbose=-1, **params)
        return lightgbm.LGBMRegressor(random_state=seed, n_jobs=1, verbose=-1, **params)
    import xgboost

    if task == "classification":
        return xgboost.XGBClassifier(random_state=seed, n_jobs=1, tree_method="hist", **params)
    return xgboost.XGBRegressor(random_state=seed, n_jobs=1, tree_method="hist", **params)


@dataclass(frozen=True)
class FitOptions:
    """Fit-time choices of the booster families (the others take none)."""

    class_weight: str = "none"
    categorical_columns: tuple[str, ...] = ()
    early_stopping_rounds: int = 0
    validation_fraction: float = 0.1
    seed: int = 42


def fit_estimator(estimator: Any, features: pd.DataFrame, target: pd.Series, options: FitOptions | None = None) -> Any:
    """Fit, with what only some families take: balanced sample weights (XGBoost), LightGBM's integer-coded
    categorical columns, and early stopping on a held-out share of the rows (LightGBM and XGBoost)."""
    options = options or FitOptions()
    family = _family_of(estimator)
    if family not in BOOSTERS:
        return estimator.fit(features, target)
    fit: dict[str, Any] = {}
    if family == "xgboost" and hasattr(estimator, "predict_proba"):
        _check_xgboost_labels(target)
        if options.class_weight == "balanced":
            from sklearn.utils.class_weight import compute_sample_weight

            fit["sample_weight"] = compute_sample_weight("balanced", target)
    if family == "lightgbm" and options.categorical_columns:
        unknown = [c for c in options.categorical_columns if c not in features.columns]
        if unknown:
            raise ValueError(
                f"categorical column '{unknown[0]}'{_hint(unknown[0], list(features.columns))} is not a feature; "
                f"features are: {', '.join(features.columns)}"
            )
        fit["categorical_feature"] = list(options.categorical_columns)
    if options.early_stopping_rounds <= 0:
        return estimator.fit(features, target, **fit)
    from sklearn.model_selection import train_test_split

    classifier = hasattr(estimator, "predict_proba")
    weights = fit.pop("sample_weight", None)
    parts = train_test_split(
        features, target, *(() if weights is None else (weights,)), test_size=options.validation_fraction,
        random_state=options.seed, stratify=target if classifier else None,
    )  # fmt: skip
    x_fit, x_val, y_fit, y_val = parts[:4]
    if weights is not None:
        fit["sample_weight"] = parts[4]
    if family == "lightgbm":
        import lightgbm

        fit["callbacks"] = [lightgbm.early_stopping(options.early_stopping_rounds, verbose=False)]
    else:
        estimator.set_params(early_stopping_rounds=options.early_stopping_rounds)
        fit["verbose"] = False
    return estimator.fit(x_fit, y_fit, eval_set=[(x_val, y_val)], **fit)


def _family_of(estimator: Any) -> str:
    module = type(estimator).__module__
    return "lightgbm" if module.startswith("lightgbm") else "xgboost" if module.startswith("xgboost") else "sklearn"


def _check_xgboost_labels(target: pd.Series) -> None:
    """XGBoost classifiers take classes 0..k-1 only; say so before training, with the fix."""
    classes = np.sort(pd.unique(target))
    if not (pd.api.types.is_integer_dtype(target) and np.array_equal(classes, np.arange(len(classes)))):
        shown = ", ".join(map(repr, classes[:4].tolist())) + (", …" if len(classes) > 4 else "")
        raise ValueError(
            f"xgboost needs class labels 0..k-1, and the label has {shown}: map the label to 0..k-1 first, "
            "or use the lightgbm family, which takes any labels"
        )


def features_and_label(frame: pd.DataFrame, label: str, drop: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Split a table into numeric features and the label; ValueError names any column in the way."""
    missing = [c for c in [label, *drop] if c not in frame.columns]
    if missing:
        raise ValueError(
            f"no column {', '.join(repr(c) + _hint(c, list(frame.columns)) for c in missing)}; "
            f"the table has: {', '.join(frame.columns)}"
        )
    features = frame.drop(columns=[label, *drop])
    text = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if text:
        raise ValueError(
            f"columns {', '.join(map(repr, text))} are not numeric; encode them first or list them in drop_columns"
        )
    return features.astype("float64"), frame[label]


def score(task: str, metric: str, y_true: Any, predicted: Any) -> float:
    """A metric from labels and predictions.

    For classification `predicted` is what `predict_for_metric` gives: the positive class's
    probabilities (binary) or a frame of probabilities, one column per class (multiclass, scored
    one-vs-rest with macro averages).
    """
    from sklearn import metrics as m

    if task == "classification":
        if isinstance(predicted, pd.DataFrame):
            return _multiclass_score(metric, y_true, predicted)
        if metric == "roc_auc":
            return float(m.roc_auc_score(y_true, predicted))
        if metric == "average_precision":
            return float(m.average_precision_score(y_true, predicted, pos_label=binary_labels(y_true)[-1]))
        if metric == "log_loss":
            return float(m.log_loss(y_true, predicted))
        classes = binary_labels(y_true)
        labels = np.where(np.asarray(predicted) >= 0.5, classes[-1], classes[0])
        if metric == "f1":
            return float(m.f1_score(y_true, labels, pos_label=classes[-1], zero_division=0))
        return float(m.accuracy_score(y_true, labels))
    if metric == "rmse":
        return float(np.sqrt(m.mean_squared_error(y_true, predicted)))
    if metric == "mae":
        return float(m.mean_absolute_error(y_true, predicted))
    return float(m.r2_score(y_true, predicted))


def binary_labels(y_true: Any) -> np.ndarray:
    """A binary task's labels in scikit-learn's order: the last one is the positive class (`predict_proba[:, 1]`)."""
    return np.sort(pd.unique(np.asarray(y_true)))


def _multiclass_score(metric: str, y_true: Any, probabilities: pd.DataFrame) -> float:
    from sklearn import metrics as m
    from sklearn.preprocessing import label_binarize

    classes = list(probabilities.columns)
    matrix = probabilities.to_numpy()
    if metric == "roc_auc":
        return float(m.roc_auc_score(y_true, matrix, multi_class="ovr", average="macro", labels=classes))
    if metric == "average_precision":
        return float(m.average_precision_score(label_binarize(y_true, classes=classes), matrix, average="macro"))
    if metric == "log_loss":
        return float(m.log_loss(y_true, matrix, labels=classes))
    labels = np.asarray(classes)[matrix.argmax(axis=1)]
    if metric == "f1":
        return float(m.f1_score(y_true, labels, average="macro", zero_division=0))
    return float(m.accuracy_score(y_true, labels))


def class_probabilities(probabilities: Any, classes: Any) -> Any:
    """What the metrics take: P(positive class) for two classes, else a frame with one column per class."""
    matrix = np.asarray(probabilities, dtype="float64")
    if matrix.ndim == 1:
        return matrix
    if matrix.shape[1] == 2:
        return matrix[:, 1]
    return pd.DataFrame(matrix, columns=list(classes))


def predict_for_metric(task: str, estimator: Any, features: pd.DataFrame) -> Any:
    """Class probabilities for a classifier (see `class_probabilities`), predictions for a regressor."""
    if task != "classification":
        return estimator.predict(features)
    return class_probabilities(estimator.predict_proba(features), estimator.classes_)


def log_model(estimator: Any, features: pd.DataFrame, task: str, model_artifact: Any, metadata: dict[str, Any]) -> Any:
    """Log `estimator` to the active MLflow run (signature + input example) and copy the MLflow
    model folder into the KFP `Model` artifact; returns MLflow's ModelInfo."""
    import mlflow

    info = log_sklearn_model(estimator, features, task)
    mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=model_artifact.path)
    model_artifact.metadata.update(
        metadata | {"model_uri": info.model_uri, "flavor": "sklearn", "task": task, "features": list(features.columns)}
    )
    return info


def log_sklearn_model(estimator: Any, features: pd.DataFrame, task: str) -> Any:
    """Log a fitted scikit-learn estimator to the active MLflow run as serving expects it: a signature,
    an input example, the output contract (task, classes) and a validation sample; returns the ModelInfo."""
    import mlflow
    import mlflow.sklearn
    import sklearn
    import skops.io
    from mlflow.models import infer_signature

    from serving.predictor import contract_metadata

    signature = infer_signature(features.head(200), np.asarray(predict_for_metric(task, estimator, features.head(200))))
    # MLflow saves scikit-learn models with skops, which loads only types it was told to trust;
    # the estimator was fitted by the caller, so the types it contains are theirs to trust.
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(estimator))
    info = mlflow.sklearn.log_model(
        estimator, name="model", signature=signature, input_example=features.head(3),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"],
        skops_trusted_types=trusted or None, metadata=contract_metadata(task, getattr(estimator, "classes_", ())),
    )  # fmt: skip
    log_validation_sample(features)
    return info


def log_validation_sample(features: pd.DataFrame, rows: int = 500) -> None:
    """Up to `rows` training rows beside the model in the active run: serving checks a compiled model
    against the native one on them (serving/served_model.py reads `tessera/validation_sample.parquet`)."""
    import tempfile
    from pathlib import Path

    import mlflow

    sample = features.sample(n=min(rows, len(features)), random_state=0) if len(features) > rows else features
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "validation_sample.parquet"
        sample.reset_index(drop=True).to_parquet(path)
        mlflow.log_artifact(str(path), artifact_path="tessera")
    mlflow.set_tag("tessera.training_rows", str(len(features)))  # drift monitoring picks its statistics by it


def load_sklearn(model_artifact: Any) -> Any:
    """The scikit-learn estimator inside a `Model` artifact (an MLflow model folder)."""
    import mlflow.sklearn

    return mlflow.sklearn.load_model(model_artifact.path)


def positive_probability(model_artifact: Any, features: pd.DataFrame) -> Any:
    """Class probabilities for each row (see `class_probabilities`: the positive class's for a binary
    model, one column per class otherwise), from a scikit-learn model or a pyfunc one (train_torch_tabular)."""
    return probability_function(model_artifact)(features)


def probability_function(model_artifact: Any) -> Any:
    """`positive_probability` with the model loaded once: a function of a feature frame (permutation
    importance calls it once per feature and shuffle)."""
    if model_artifact.metadata.get("flavor", "sklearn") == "sklearn":
        estimator = load_sklearn(model_artifact)
        return lambda features: predict_for_metric("classification", estimator, features)
    import mlflow.pyfunc

    loaded = mlflow.pyfunc.load_model(model_artifact.path)

    def probabilities(features: pd.DataFrame) -> Any:
        predicted = np.asarray(loaded.predict(features), dtype="float64")
        width = predicted.shape[1] if predicted.ndim == 2 else 2
        return class_probabilities(predicted, model_artifact.metadata.get("classes") or list(range(width)))

    return probabilities


def train_and_log(
    task: str,
    train: Any,
    model: Any,
    metrics: Any,
    label: str,
    family: str,
    hyper: dict[str, Any],
    drop_columns: list[str],
    class_weight: str,
    seed: int,
    run_name: str,
    fit_options: FitOptions | None = None,
) -> None:
    """Fit one model on a train Dataset, log it to MLflow with lineage, fill the Model and Metrics artifacts."""
    import mlflow

    from component_store.runtime.tables import read_table
    from component_store.runtime.tracking import file_fingerprint, fingerprint_of, lineage_tags, start_tracking
    from serving.inference_pipeline import CHAIN_KEY, chain_of

    hyper = {k: v for k, v in hyper.items() if k in FAMILY_PARAMS[family]}
    check_request(task, family, params=hyper)
    frame = read_table(train)
    features, target = features_and_label(frame, label, list(drop_columns))
    estimator = build_estimator(task, family, hyper, class_weight, seed)
    data_fingerprint = file_fingerprint(train.path)
    start_tracking()
    with mlflow.start_run(run_name=run_name, tags=lineage_tags(data_fingerprint)) as run:
        options = fit_options or FitOptions(class_weight=class_weight, seed=seed)
        mlflow.log_params({"family": family, "class_weight": class_weight, "seed": seed, "label": label, **hyper})
        fit_estimator(estimator, features, target, options)
        stopped_at = getattr(estimator, "best_iteration_", None) or getattr(estimator, "best_iteration", None)
        if options.early_stopping_rounds > 0 and stopped_at:
            mlflow.log_metric("best_iteration", float(stopped_at))
        training = {
            m: score(task, m, target, predict_for_metric(task, estimator, features))
            for m in METRICS[task]
            if m != "log_loss"
        }
        mlflow.log_metrics({f"train_{k}": v for k, v in training.items()})
        log_model(estimator, features, task, model, {
            "mlflow_run_id": run.info.run_id, "label": label, "family": family, "params": hyper,
            "data_fingerprint": data_fingerprint, "lineage": lineage_tags(data_fingerprint),
            "classes": [_plain(c) for c in getattr(estimator, "classes_", [])],
            "model_fingerprint": fingerprint_of(data_fingerprint, task, family, sorted(hyper.items()), class_weight, seed, list(drop_columns)),
            CHAIN_KEY: chain_of(train.metadata, frame), "drop_columns": list(drop_columns),
        })  # fmt: skip
    for name, value in training.items():
        metrics.log_metric(f"train_{name}", round(value, 6))


def train_and_fit_best(
    frame: pd.DataFrame,
    task: str,
    family: str,
    params: dict[str, Any],
    label: str,
    drop: list[str],
    class_weight: str,
    seed: int,
) -> tuple[Any, pd.DataFrame]:
    """Fit the family with `params` on every row; returns the estimator and the features it saw."""
    features, target = features_and_label(frame, label, drop)
    estimator = build_estimator(task, family, params, class_weight, seed)
    fit_estimator(estimator, features, target, FitOptions(class_weight=class_weight, seed=seed))
    return estimator, features


def _plain(value: Any) -> Any:
    """A class label as JSON has it (numpy scalars are not JSON)."""
    return value.item() if hasattr(value, "item") else value


def model_inputs(model_artifact: Any, table_artifact: Any) -> tuple[pd.DataFrame, pd.Series]:
    """The features a model was trained on (in its order) and its label, from a table artifact.

    Raises:
        ValueError: naming every feature or label column the table lacks.
    """
    from component_store.runtime.tables import read_table, require_columns

    info = model_artifact.metadata
    frame = read_table(table_artifact)
    require_columns(frame, [*info["features"], info["label"]], f"the table for model '{info.get('family', 'model')}'")
    return frame[info["features"]].astype("float64"), frame[info["label"]]
