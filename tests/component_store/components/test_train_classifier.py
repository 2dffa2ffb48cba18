import mlflow
import pandas as pd
import pytest
from kfp.dsl import Metrics, Model
from mlflow import MlflowClient

from component_store.components.train_classifier import train_classifier


@pytest.mark.parametrize("family", ["logistic", "random_forest", "gradient_boosting", "hist_gradient_boosting"])
def test_train_classifier_each_family_on_breast_cancer(mlflow_env, cancer_split, output, family):
    train, _ = cancer_split
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_classifier(train=train, model=model, metrics=metrics, label="target", family=family, n_estimators=50)
    assert metrics.metadata["train_roc_auc"] > 0.95
    info = model.metadata
    assert info["family"] == family and info["label"] == "target" and len(info["features"]) == 30
    loaded = mlflow.sklearn.load_model(model.path)
    assert loaded.predict_proba(pd.read_parquet(train.path).drop(columns="target"))[:, 1].shape[0] > 0
    run = MlflowClient().get_run(info["mlflow_run_id"])
    assert run.data.tags["tessera.node"] == "train" and run.data.tags["tessera.run_id"] == "run-1"
    assert run.data.tags["tessera.data_fingerprint"] == info["data_fingerprint"]
    assert run.data.params["family"] == family
    assert mlflow.get_experiment(run.info.experiment_id).name == "risk/test"


def test_train_classifier_model_has_signature_and_example(mlflow_env, cancer_split, output):
    model = output("model", Model)
    train_classifier(
        train=cancer_split[0], model=model, metrics=output("m", Metrics), label="target", family="logistic"
    )
    from mlflow.models import Model as MlflowModel

    mlmodel = MlflowModel.load(model.path)
    assert [c.name for c in mlmodel.signature.inputs.inputs][:2] == ["mean radius", "mean texture"]
    assert mlmodel.saved_input_example_info is not None


def test_train_classifier_refuses_text_features_before_training(mlflow_env, dataset, output):
    from component_store.runtime.player_risk import player_risk_table

    table = dataset(player_risk_table(200))
    with pytest.raises(
        ValueError,
        match="'player_id', 'country', 'platform' are not numeric; encode them first or list them in drop_columns",
    ):
        train_classifier(train=table, model=output("model", Model), metrics=output("m", Metrics), label="is_cheater")
    with pytest.raises(ValueError, match="no column 'is_cheeter' \\(did you mean 'is_cheater'\\?\\)"):
        train_classifier(train=table, model=output("model", Model), metrics=output("m", Metrics), label="is_cheeter")
