import pandas as pd
from kfp.dsl import Metrics, Model

from component_store.components.train_regressor import train_regressor


def test_train_regressor_on_diabetes(mlflow_env, dataset, output):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_regressor(train=dataset(frame), model=model, metrics=metrics, label="target", family="linear", alpha=1.0)
    assert 0.4 < metrics.metadata["train_r2"] < 0.7
    assert model.metadata["task"] == "regression"
    import mlflow.sklearn

    predictions = mlflow.sklearn.load_model(model.path).predict(frame.drop(columns="target"))
    assert pd.Series(predictions).between(0, 400).all()
