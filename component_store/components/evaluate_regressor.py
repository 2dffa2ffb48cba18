from kfp.dsl import Dataset, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="evaluate_regressor", version="1.1.0", category="evaluate", tags=["metrics", "mlflow"], owner="platform"
)
def evaluate_regressor(
    model: Input[Model],
    test: Input[Dataset],
    metrics: Output[Metrics],
):
    """Evaluate a regressor on the test set: RMSE, MAE and R², also logged to the model's MLflow run, and
    which features matter (permutation importance: the fall in R² when a feature is shuffled; the 20
    largest in the metrics' metadata as `feature_importance` and in `evaluation/feature_importance.json`).

    Args:
        model: the trained model (from train_regressor or tune_optuna).
        test: the held-out rows, with the label column the model was trained on.
        metrics: test-set metrics (rmse, mae, r2).
    """
    import mlflow

    from component_store.runtime.evaluation import feature_importance, regression_report
    from component_store.runtime.models import load_sklearn, model_inputs, score
    from component_store.runtime.tracking import start_tracking

    info = model.metadata
    features, target = model_inputs(model, test)
    estimator = load_sklearn(model)
    report = regression_report(target, estimator.predict(features))
    for name, value in report.items():
        metrics.log_metric(name, round(value, 6))
    start_tracking()
    client = mlflow.MlflowClient()
    for name, value in report.items():
        client.log_metric(info["mlflow_run_id"], f"test_{name}", value)
    metrics.metadata["mlflow_run_id"] = info["mlflow_run_id"]
    importance = feature_importance(estimator.predict, features, target, lambda y, p: score("regression", "r2", y, p))
    metrics.metadata["feature_importance"] = importance
    client.log_dict(info["mlflow_run_id"], importance, "evaluation/feature_importance.json")
