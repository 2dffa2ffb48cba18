from typing import Annotated

from kfp.dsl import ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="evaluate_classifier",
    version="1.2.0",
    category="evaluate",
    tags=["metrics", "roc", "mlflow"],
    owner="platform",
)
def evaluate_classifier(
    model: Input[Model],
    test: Input[Dataset],
    metrics: Output[Metrics],
    curves: Output[ClassificationMetrics],
    threshold: Annotated[float, (0.0, 1.0)] = 0.5,
):
    """Evaluate a classifier on the test set: ROC AUC, PR AUC, F1, precision, recall, calibration,
    and which features matter (permutation importance: the fall in ROC AUC when a feature is shuffled).

    The metrics and ROC / precision-recall / calibration plots are also logged to the
    model's MLflow run, as `test_*` metrics and PNGs under `evaluation/`; the importances are in
    the metrics' metadata (`feature_importance`, the 20 largest) and in `evaluation/feature_importance.json`.

    Args:
        model: the trained model (from train_classifier, tune_optuna or train_torch_tabular).
        test: the held-out rows, with the label column the model was trained on.
        metrics: test-set metrics (roc_auc, pr_auc, f1, precision, recall, accuracy, brier).
        curves: ROC curve and confusion matrix for the KFP UI.
        threshold: probability above which a row is predicted positive (for F1, precision, recall).
    """
    import mlflow

    from component_store.runtime.evaluation import (
        classification_curves,
        classification_report,
        feature_importance,
        log_classification_plots,
    )
    from component_store.runtime.models import model_inputs, probability_function, score
    from component_store.runtime.tracking import start_tracking

    info = model.metadata
    features, target = model_inputs(model, test)
    predict = probability_function(model)
    probability = predict(features)
    report = classification_report(target, probability, threshold)
    for name, value in report.items():
        metrics.log_metric(name, round(value, 6))
    classification_curves(target, probability, threshold, curves)
    start_tracking()
    client = mlflow.MlflowClient()
    for name, value in report.items():
        client.log_metric(info["mlflow_run_id"], f"test_{name}", value)
    metrics.metadata["plots"] = log_classification_plots(info["mlflow_run_id"], target, probability)
    metrics.metadata["mlflow_run_id"] = info["mlflow_run_id"]
    importance = feature_importance(predict, features, target, lambda y, p: score("classification", "roc_auc", y, p))
    metrics.metadata["feature_importance"] = importance
    client.log_dict(info["mlflow_run_id"], importance, "evaluation/feature_importance.json")
