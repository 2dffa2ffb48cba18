from kfp.dsl import Artifact, Dataset, Input, Output

from component_store.decorator import component


@component(
    name="batch_predict", version="1.1.0", category="model", tags=["scoring", "mlflow", "batch"], owner="platform"
)
def batch_predict(
    table: Input[Dataset],
    model: Input[Artifact],
    scored: Output[Dataset],
    prediction_column: str = "prediction",
):
    """Score a table with the model connected to it, and add prediction columns.

    Connect a trainer's or tuner's model, or register_model's output to score with the
    version it registered (the step then runs only after registration). Classifiers add
    the predicted class and `<prediction_column>_probability` (two classes) or one
    `<prediction_column>_probability_<class>` column per class; regressors add the prediction.

    Args:
        table: the rows to score; must hold the model's feature columns (others are kept as they are).
        model: the model: from train_classifier, train_regressor, tune_optuna, or register_model's registered version.
        scored: the table with the prediction columns added.
        prediction_column: name of the added prediction column.
    """
    from component_store.runtime.scoring import add_predictions, load_model_input, model_features
    from component_store.runtime.tables import read_table, write_table

    loaded, source = load_model_input(model)
    frame = read_table(table)
    write_table(add_predictions(loaded, frame, model_features(loaded, model.metadata), prediction_column), scored)
    scored.metadata["model"] = source
