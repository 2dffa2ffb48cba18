"""train_torch_tabular on breast_cancer, on the CPU: a sensible AUC, a pyfunc model with a signature, determinism."""

import mlflow
import numpy as np
import pandas as pd
import pytest
from kfp.dsl import ClassificationMetrics, Metrics, Model
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

from component_store.components.evaluate_classifier import evaluate_classifier
from component_store.components.train_torch_tabular import train_torch_tabular

FAST = {"epochs": 40, "patience": 5, "hidden_sizes": [32, 16]}


def test_train_torch_tabular_on_breast_cancer_serves_through_pyfunc(mlflow_env, cancer_split, output, capfd):
    train, test = cancer_split
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_torch_tabular(train=train, model=model, metrics=metrics, label="target", device="cuda", **FAST)
    assert "a GPU was requested, but CUDA is not available here: training on the CPU" in capfd.readouterr().out
    assert metrics.metadata["device"] == "cpu" and 1 <= metrics.metadata["best_epoch"] <= 40
    frame = pd.read_parquet(test.path)
    served = mlflow.pyfunc.load_model(model.path)
    probability = served.predict(frame.drop(columns="target"))
    assert roc_auc_score(frame["target"], probability) > 0.97
    assert ((probability >= 0) & (probability <= 1)).all()
    signature = served.metadata.signature
    assert [c.name for c in signature.inputs.inputs][:2] == ["mean radius", "mean texture"]
    with pytest.raises(mlflow.exceptions.MlflowException, match="mean radius"):
        served.predict(frame.drop(columns=["target", "mean radius"]))
    run = MlflowClient().get_run(model.metadata["mlflow_run_id"])
    assert run.data.params["family"] == "torch_mlp" and run.data.params["device"] == "cpu"
    assert run.data.tags["tessera.node"] == "train"
    history = MlflowClient().get_metric_history(run.info.run_id, "val_loss")
    assert len(history) == metrics.metadata["epochs_run"]
    # evaluate_classifier scores a pyfunc model like a scikit-learn one
    scores = output("scores", Metrics)
    evaluate_classifier(model=model, test=test, metrics=scores, curves=output("curves", ClassificationMetrics))
    assert scores.metadata["roc_auc"] > 0.97
    assert max(scores.metadata["feature_importance"].values()) > 0, "the torch model's features ranked too"


def test_train_torch_tabular_is_deterministic_for_a_seed(mlflow_env, cancer_split, output):
    predictions = []
    for attempt in range(2):
        model = output(f"model{attempt}", Model)
        train_torch_tabular(
            train=cancer_split[0], model=model, metrics=output(f"m{attempt}", Metrics), label="target", seed=3, **FAST
        )
        frame = pd.read_parquet(cancer_split[1].path).drop(columns="target")
        predictions.append(mlflow.pyfunc.load_model(model.path).predict(frame))
    np.testing.assert_array_equal(predictions[0], predictions[1])


def test_train_torch_tabular_regression_and_multiclass(mlflow_env, dataset, output):
    from sklearn.datasets import load_diabetes, load_iris

    diabetes = load_diabetes(as_frame=True).frame
    model = output("reg", Model)
    train_torch_tabular(
        train=dataset(diabetes, "diabetes"), model=model, metrics=output("m", Metrics), label="target",
        task="regression", learning_rate=0.01, epochs=80,
    )  # fmt: skip
    predicted = mlflow.pyfunc.load_model(model.path).predict(diabetes.drop(columns="target"))
    assert np.corrcoef(predicted, diabetes["target"])[0, 1] > 0.6
    iris = load_iris(as_frame=True).frame
    model = output("iris", Model)
    train_torch_tabular(
        train=dataset(iris, "iris"), model=model, metrics=output("m2", Metrics), label="target", learning_rate=0.01
    )
    probabilities = mlflow.pyfunc.load_model(model.path).predict(iris.drop(columns="target"))
    assert probabilities.shape == (150, 3) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert (probabilities.argmax(axis=1) == iris["target"]).mean() > 0.9


def test_train_torch_tabular_refuses_bad_layers_and_labels(mlflow_env, cancer_split, output):
    with pytest.raises(ValueError, match="hidden_sizes must list one or more positive layer widths"):
        train_torch_tabular(
            train=cancer_split[0],
            model=output("m", Model),
            metrics=output("x", Metrics),
            label="target",
            hidden_sizes=[],
        )
    with pytest.raises(ValueError, match="no column 'targt' \\(did you mean 'target'\\?\\)"):
        train_torch_tabular(
            train=cancer_split[0], model=output("m", Model), metrics=output("x", Metrics), label="targt"
        )
