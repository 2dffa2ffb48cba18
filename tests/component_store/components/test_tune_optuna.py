import optuna
import pytest
from kfp.dsl import Metrics, Model
from mlflow import MlflowClient

from component_store.components.tune_optuna import tune_optuna


def test_tune_optuna_finds_and_refits_the_best(mlflow_env, cancer_split, output):
    model, metrics = output("model", Model), output("metrics", Metrics)
    tune_optuna(
        train=cancer_split[0], model=model, metrics=metrics, label="target", family="logistic", n_trials=8, cv_folds=3
    )
    assert metrics.metadata["cv_roc_auc"] > 0.97
    assert metrics.metadata["trials_complete"] + metrics.metadata["trials_pruned"] == 8
    study = optuna.load_study(study_name=metrics.metadata["optuna_study"], storage=metrics.metadata["optuna_storage"])
    assert len(study.trials) == 8 and study.best_value == pytest.approx(metrics.metadata["cv_roc_auc"], abs=1e-6)
    assert model.metadata["params"]["C"] == study.best_params["C"]
    client = MlflowClient()
    parent = model.metadata["mlflow_run_id"]
    children = client.search_runs([client.get_run(parent).info.experiment_id], f"tags.mlflow.parentRunId = '{parent}'")
    assert len(children) == 8
    plots = {a.path for a in client.list_artifacts(parent, "tuning")}
    assert plots == {"tuning/optimization_history.png"}, "one tuned parameter: no importances to plot"


def test_tune_optuna_search_space_override(mlflow_env, cancer_split, output):
    model, metrics = output("model", Model), output("metrics", Metrics)
    tune_optuna(
        train=cancer_split[0],
        model=model,
        metrics=metrics,
        label="target",
        family="random_forest",
        n_trials=3,
        search_space={"n_estimators": 20, "max_depth": {"low": 2, "high": 3}},
    )
    assert model.metadata["params"]["n_estimators"] == 20 and 2 <= model.metadata["params"]["max_depth"] <= 3
    plots = {a.path for a in MlflowClient().list_artifacts(model.metadata["mlflow_run_id"], "tuning")}
    assert plots == {"tuning/optimization_history.png", "tuning/param_importances.png"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"family": "linear"}, "model family 'linear' does not fit classification"),
        ({"metric": "rmse"}, "metric 'rmse' does not fit classification \\(it is a regression metric\\)"),
        (
            {"search_space": {"max_dept": {"low": 2}}},
            "'max_dept' is not a hyper-parameter of hist_gradient_boosting \\(did you mean 'max_depth'\\?\\)",
        ),
        ({"workers": 2}, "SQLite storage cannot take parallel workers"),
    ],
)
def test_tune_optuna_bad_requests_fail_before_training(mlflow_env, cancer_split, output, kwargs, message):
    import time

    started = time.monotonic()
    with pytest.raises(ValueError, match=message):
        tune_optuna(
            train=cancer_split[0], model=output("m", Model), metrics=output("x", Metrics), label="target", **kwargs
        )
    assert time.monotonic() - started < 2, "checked before any trial"


@pytest.mark.slow
def test_tune_optuna_two_workers_on_postgresql(mlflow_env, cancer_split, output, postgres_url):
    model, metrics = output("model", Model), output("metrics", Metrics)
    tune_optuna(
        train=cancer_split[0],
        model=model,
        metrics=metrics,
        label="target",
        family="logistic",
        n_trials=6,
        storage=postgres_url,
        workers=2,
        seed=7,
    )
    study = optuna.load_study(study_name=metrics.metadata["optuna_study"], storage=postgres_url)
    assert len(study.trials) == 6
    assert "s3cret" not in metrics.metadata["optuna_storage"]
    optuna.delete_study(study_name=study.study_name, storage=postgres_url)
