from typing import Annotated, Literal

from kfp.dsl import Dataset, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="train_xgboost",
    version="1.0.0",
    category="train",
    tags=["xgboost", "gradient-boosting", "mlflow", "classification", "regression"],
    owner="platform",
)
def train_xgboost(
    train: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    label: str,
    task: Literal["classification", "regression"] = "classification",
    n_estimators: Annotated[int, (10, 10000)] = 300,
    learning_rate: Annotated[float, (0.001, 1.0)] = 0.1,
    max_depth: Annotated[int, (1, 32)] = 6,
    min_child_weight: Annotated[float, (0.0, 1000.0)] = 1.0,
    subsample: Annotated[float, (0.1, 1.0)] = 1.0,
    colsample_bytree: Annotated[float, (0.1, 1.0)] = 1.0,
    reg_lambda: Annotated[float, (0.0, 1000.0)] = 1.0,
    early_stopping_rounds: Annotated[int, (0, 1000)] = 0,
    validation_fraction: Annotated[float, (0.05, 0.5)] = 0.1,
    class_weight: Literal["none", "balanced"] = "balanced",
    drop_columns: list = [],
    seed: int = 42,
):
    """Train an XGBoost model (classifier or regressor, histogram trees) and log it to MLflow with its signature.

    For classification the label must hold the classes 0..k-1 (0/1 for a binary task).

    Args:
        train: the training rows; every column but the label and drop_columns must be numeric.
        model: the fitted model, as an MLflow model folder (also logged to the MLflow run).
        metrics: training-set metrics.
        label: the label column (0..k-1 for classification).
        task: classification or regression.
        n_estimators: boosting rounds (the most, when early stopping is on).
        learning_rate: shrinkage per boosting round (eta).
        max_depth: deepest tree.
        min_child_weight: least total weight (hessian) in a leaf.
        subsample: share of rows each round sees.
        colsample_bytree: share of columns each tree sees.
        reg_lambda: L2 penalty on leaf weights.
        early_stopping_rounds: stop when the held-out score has not improved for this many rounds; 0 turns it off.
        validation_fraction: share of the training rows held out for early stopping.
        class_weight: balanced weighs rare classes up through per-row weights.
        drop_columns: columns that are not features, such as ids.
        seed: random seed, for a reproducible model.
    """
    from component_store.runtime.models import FitOptions, train_and_log

    hyper = {
        "n_estimators": n_estimators,
        "learning_rate": learning_rate,
        "max_depth": max_depth,
        "min_child_weight": min_child_weight,
        "subsample": subsample,
        "colsample_bytree": colsample_bytree,
        "reg_lambda": reg_lambda,
    }
    weight = class_weight if task == "classification" else "none"
    options = FitOptions(weight, (), early_stopping_rounds, validation_fraction, seed)
    train_and_log(
        task, train, model, metrics, label, "xgboost", hyper, drop_columns, weight, seed, "train_xgboost", options
    )
