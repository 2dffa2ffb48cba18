from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(
    name="batch_predict", version="1.0.0", category="model", tags=["scoring", "mlflow", "batch"], owner="platform"
)
def batch_predict(
    table: Input[Dataset],
    scored: Output[Dataset],
    model_ref: str,
    prediction_column: str = "prediction",
):
    """Score a table with a registered model (NAME@ALIAS or NAME/VERSION) and add prediction columns.

    Classifiers add the predicted class and a `<prediction_column>_probability` column
    with the positive-class probability; regressors add the prediction.

    Args:
        table: the rows to score; must hold the model's feature columns (others are kept as they are).
        scored: the table with the prediction columns added.
        model_ref: the model, e.g. cheater-detector@champion or cheater-detector/3.
        prediction_column: name of the added prediction column.
    """
    import mlflow.sklearn

    from component_store.runtime.tables import read_table, require_columns, write_table
    from component_store.runtime.tracking import start_tracking
    from serving.model_registry import ModelRegistry

    start_tracking()
    version = ModelRegistry().resolve(model_ref)
    estimator = mlflow.sklearn.load_model(f"models:/{version.name}/{version.version}")
    frame = read_table(table)
    features = list(getattr(estimator, "feature_names_in_", []))
    require_columns(frame, features, "batch_predict")
    rows = frame[features].astype("float64")
    frame[prediction_column] = estimator.predict(rows)
    if hasattr(estimator, "predict_proba"):
        frame[f"{prediction_column}_probability"] = estimator.predict_proba(rows)[:, 1]
    write_table(frame, scored)
    scored.metadata["model"] = f"{version.name}/{version.version}"
