from typing import Annotated, Literal

from kfp.dsl import Dataset, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="train_classifier",
    version="1.0.0",
    category="train",
    tags=["sklearn", "mlflow", "classification"],
    owner="platform",
)
def train_classifier(
    train: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    label: str,
    family: Literal["logistic", "random_forest", "gradient_boosting", "hist_gradient_boosting"] = "random_forest",
    n_estimators: Annotated[int, (10, 2000)] = 200,
    max_depth: Annotated[int, (1, 64)] = 8,
    min_samples_leaf: Annotated[int, (1, 1000)] = 1,
    learning_rate: Annotated[float, (0.001, 1.0)] = 0.1,
    max_iter: Annotated[int, (10, 5000)] = 200,
    l2_regularization: Annotated[float, (0.0, 100.0)] = 0.0,
    C: Annotated[float, (0.0001, 10000.0)] = 1.0,
    class_weight: Literal["none", "balanced"] = "balanced",
    drop_columns: list = [],
    seed: int = 42,
):
    """Train a scikit-learn classifier and log it to MLflow with its signature and lineage.

    Each family uses its own hyper-parameters: logistic takes C; random_forest takes
    n_estimators, max_depth and min_samples_leaf; gradient_boosting takes n_estimators,
    learning_rate and max_depth; hist_gradient_boosting takes learning_rate, max_iter,
    max_depth and l2_regularization. The others are ignored.

    Args:
        train: the training rows; every column but the label and drop_columns must be numeric.
        model: the fitted model, as an MLflow model folder (also logged to the MLflow run).
        metrics: training-set metrics.
        label: the label column (0/1 or classes).
        family: the model family.
        n_estimators: number of trees (random_forest, gradient_boosting).
        max_depth: deepest tree (random_forest, gradient_boosting, hist_gradient_boosting).
        min_samples_leaf: fewest rows in a leaf (random_forest).
        learning_rate: shrinkage per boosting step (gradient_boosting, hist_gradient_boosting).
        max_iter: boosting iterations (hist_gradient_boosting).
        l2_regularization: L2 penalty (hist_gradient_boosting).
        C: inverse regularisation strength (logistic).
        class_weight: balanced weighs rare classes up, which suits imbalanced labels such as cheaters.
        drop_columns: columns that are not features, such as ids.
        seed: random seed, for a reproducible model.
    """
    from component_store.runtime.models import train_and_log

    hyper = {
        "n_estimators": n_estimators,
        "max_depth": max_depth,
        "min_samples_leaf": min_samples_leaf,
        "learning_rate": learning_rate,
        "max_iter": max_iter,
        "l2_regularization": l2_regularization,
        "C": C,
    }
    train_and_log(
        "classification",
        train,
        model,
        metrics,
        label,
        family,
        hyper,
        drop_columns,
        class_weight,
        seed,
        "train_classifier",
    )
