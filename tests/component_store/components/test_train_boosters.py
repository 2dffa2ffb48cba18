"""train_lightgbm, train_xgboost and tune_optuna's booster families on real data: the multiclass and
regression tasks a risk team brings, early stopping, class weights, and two tuning workers on PostgreSQL."""

import mlflow
import numpy as np
import optuna
import pandas as pd
import pytest
from kfp.dsl import Metrics, Model
from mlflow import MlflowClient
from mlflow.models import Model as MlflowModel

from component_store.components.train_lightgbm import train_lightgbm
from component_store.components.train_xgboost import train_xgboost
from component_store.components.tune_optuna import tune_optuna


@pytest.fixture
def tiers(dataset):
    """Wine as a three-tier risk table: text labels, 13 numeric columns, a few missing values."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame["tier"] = np.array(["low", "mid", "high"])[frame.pop("target")]
    frame.loc[::17, "magnesium"] = np.nan
    return frame, dataset(frame)


def test_train_lightgbm_multiclass_with_text_labels_and_early_stopping(mlflow_env, tiers, output):
    frame, table = tiers
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_lightgbm(
        train=table, model=model, metrics=metrics, label="tier", n_estimators=500, early_stopping_rounds=10,
        validation_fraction=0.2, num_leaves=8,
    )  # fmt: skip
    assert metrics.metadata["train_roc_auc"] > 0.95 and metrics.metadata["train_accuracy"] > 0.9
    assert sorted(model.metadata["classes"]) == ["high", "low", "mid"] and model.metadata["family"] == "lightgbm"
    estimator = mlflow.sklearn.load_model(model.path)
    run = MlflowClient().get_run(model.metadata["mlflow_run_id"])
    assert 1 <= run.data.metrics["best_iteration"] < 500, "early stopping stopped before the last round"
    assert estimator.predict(frame.drop(columns="tier").head(3)).dtype.kind in "OU"
    stated = MlflowModel.load(model.path).metadata["tessera"]
    assert stated == {"task": "classification", "classes": list(estimator.classes_)}


def test_train_lightgbm_regression_with_a_categorical_column(mlflow_env, dataset, output):
    rng = np.random.default_rng(3)
    region = rng.integers(0, 6, 600)
    frame = pd.DataFrame({"region": region, "level": rng.uniform(1, 60, 600)})
    frame["spend"] = np.array([5, 40, 12, 80, 3, 20])[region] + frame["level"] * 0.5 + rng.normal(0, 1, 600)
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_lightgbm(
        train=dataset(frame), model=model, metrics=metrics, label="spend", task="regression",
        categorical_columns=["region"], n_estimators=200,
    )  # fmt: skip
    assert metrics.metadata["train_r2"] > 0.95
    assert MlflowModel.load(model.path).metadata["tessera"] == {"task": "regression", "classes": []}
    with pytest.raises(ValueError, match="categorical column 'regoin' \\(did you mean 'region'\\?\\) is not a feature"):
        train_lightgbm(
            train=dataset(frame), model=output("m2", Model), metrics=output("x2", Metrics), label="spend",
            task="regression", categorical_columns=["regoin"],
        )  # fmt: skip


def test_train_xgboost_binary_balanced_and_regression(mlflow_env, cancer_split, output):
    model, metrics = output("model", Model), output("metrics", Metrics)
    train_xgboost(train=cancer_split[0], model=model, metrics=metrics, label="target", n_estimators=50)
    assert metrics.metadata["train_roc_auc"] > 0.95 and model.metadata["classes"] == [0, 1]
    regressor, scores = output("regressor", Model), output("scores", Metrics)
    train_xgboost(
        train=cancer_split[0], model=regressor, metrics=scores, label="mean radius", task="regression",
        n_estimators=100, early_stopping_rounds=5,
    )  # fmt: skip
    assert scores.metadata["train_r2"] > 0.9


def test_train_xgboost_says_what_to_do_with_text_labels(mlflow_env, tiers, output):
    with pytest.raises(ValueError, match="xgboost needs class labels 0..k-1.*use the lightgbm family"):
        train_xgboost(train=tiers[1], model=output("model", Model), metrics=output("m", Metrics), label="tier")


@pytest.mark.slow
@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
def test_tune_optuna_boosters_with_two_workers_on_postgresql(mlflow_env, cancer_split, output, postgres_url, family):
    model, metrics = output("model", Model), output("metrics", Metrics)
    tune_optuna(
        train=cancer_split[0], model=model, metrics=metrics, label="target", family=family, n_trials=4,
        storage=postgres_url, workers=2, seed=5, search_space={"n_estimators": {"low": 20, "high": 60}},
    )  # fmt: skip
    study = optuna.load_study(study_name=metrics.metadata["optuna_study"], storage=postgres_url)
    assert len(study.trials) == 4 and metrics.metadata["cv_roc_auc"] > 0.95
    assert set(study.best_params) >= {"n_estimators", "learning_rate", "subsample"}
    assert model.metadata["family"] == family and 20 <= model.metadata["params"]["n_estimators"] <= 60
    optuna.delete_study(study_name=study.study_name, storage=postgres_url)
