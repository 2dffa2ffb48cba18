from typing import Annotated, Literal

from kfp.dsl import Dataset, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="tune_optuna",
    version="1.1.0",
    category="tune",
    tags=["optuna", "hyperparameters", "mlflow", "lightgbm", "xgboost"],
    owner="platform",
)
def tune_optuna(
    train: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    label: str,
    task: Literal["classification", "regression"] = "classification",
    family: Literal[
        "logistic", "linear", "random_forest", "gradient_boosting", "hist_gradient_boosting", "lightgbm", "xgboost"
    ] = "hist_gradient_boosting",
    metric: Literal["roc_auc", "average_precision", "f1", "accuracy", "log_loss", "rmse", "mae", "r2"] = "roc_auc",
    n_trials: Annotated[int, (1, 2000)] = 20,
    timeout_seconds: Annotated[int, (0, 86400)] = 0,
    cv_folds: Annotated[int, (2, 10)] = 3,
    search_space: dict = {},
    storage: str = "",
    workers: Annotated[int, (1, 32)] = 1,
    class_weight: Literal["none", "balanced"] = "balanced",
    drop_columns: list = [],
    seed: int = 42,
):
    """Tune a model family with Optuna (TPE, median pruning across CV folds), then refit the best on all rows.

    Each trial is logged as a nested MLflow run under the tuning run; the study is kept
    in Optuna storage (SQLite in the workspace by default) so it can be plotted later.
    Parallel workers need a PostgreSQL or MySQL storage URL.

    Args:
        train: the training rows; every column but the label and drop_columns must be numeric.
        model: the best model refit on all training rows, as an MLflow model folder.
        metrics: best cross-validated score, trial counts and the study's name.
        label: the label column.
        task: classification or regression.
        family: the model family to tune; logistic is for classification, linear for regression; lightgbm and
            xgboost are the boosting libraries (xgboost classifiers need labels 0..k-1).
        metric: the cross-validated objective; must fit the task.
        n_trials: how many trials to run.
        timeout_seconds: stop starting trials after this long; 0 means no limit.
        cv_folds: cross-validation folds per trial.
        search_space: overrides of the built-in space, e.g. {"max_depth": {"low": 2, "high": 6}} or a fixed value.
        storage: Optuna storage URL; empty uses the workspace's SQLite file.
        workers: parallel worker processes sharing the study.
        class_weight: balanced weighs rare classes up (classification).
        drop_columns: columns that are not features, such as ids.
        seed: random seed of the sampler, the folds and the models.
    """
    import os

    import mlflow
    import optuna

    from component_store.runtime.models import check_request, log_model, train_and_fit_best
    from component_store.runtime.tables import read_table
    from component_store.runtime.tracking import file_fingerprint, fingerprint_of, lineage_tags, start_tracking
    from component_store.runtime.tuning import (
        TuningJob,
        check_storage,
        default_storage,
        optimize,
    )
    from component_store.runtime.tuning import (
        search_space as build_space,
    )
    from serving.inference_pipeline import CHAIN_KEY, chain_of

    check_request(task, family, metric)
    space = build_space(task, family, dict(search_space))
    url = storage or default_storage()
    check_storage(url, workers)
    data_fingerprint = file_fingerprint(train.path)
    # One study per run and node: a rerun starts afresh (so the same seed gives the same model).
    where = f"{os.environ.get('TESSERA_WORKFLOW', 'adhoc')}/{os.environ.get('TESSERA_RUN_ID', 'run')}/{os.environ.get('TESSERA_NODE', 'tune')}"
    study_name = f"{where}/{fingerprint_of(data_fingerprint, family, metric, sorted(space.items()), seed, n_trials)}"
    experiment_id = start_tracking()
    with mlflow.start_run(
        run_name="tune_optuna", tags=lineage_tags(data_fingerprint) | {"optuna.study": study_name}
    ) as run:
        job = TuningJob(
            train.path,
            label,
            tuple(drop_columns),
            task,
            family,
            metric,
            space,
            cv_folds,
            class_weight,
            seed,
            study_name,
            url,
            run.info.run_id,
            mlflow.get_tracking_uri(),
            experiment_id,
        )
        study = optimize(job, n_trials, timeout_seconds or None, workers)
        complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if not complete:
            raise ValueError("tune_optuna: no trial finished; raise n_trials or timeout_seconds")
        best = {name: study.best_params.get(name, spec.get("value")) for name, spec in space.items()}
        mlflow.log_params(
            {f"best_{k}": v for k, v in best.items()} | {"family": family, "metric": metric, "n_trials": n_trials}
        )
        mlflow.log_metric(f"cv_{metric}", study.best_value)
        frame = read_table(train)
        estimator, features = train_and_fit_best(
            frame, task, family, best, label, list(drop_columns), class_weight, seed
        )
        log_model(estimator, features, task, model, {
            "mlflow_run_id": run.info.run_id, "label": label, "family": family, "params": best,
            "data_fingerprint": data_fingerprint, "lineage": lineage_tags(data_fingerprint),
            "model_fingerprint": fingerprint_of(data_fingerprint, task, family, sorted(best.items()), class_weight, seed, list(drop_columns)),
            "optuna_study": study_name, "drop_columns": list(drop_columns),
            "classes": [c.item() if hasattr(c, "item") else c for c in getattr(estimator, "classes_", [])],
            CHAIN_KEY: chain_of(train.metadata, frame),
        })  # fmt: skip
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    metrics.log_metric(f"cv_{metric}", round(study.best_value, 6))
    metrics.log_metric("trials_complete", len(complete))
    metrics.log_metric("trials_pruned", pruned)
    metrics.metadata["optuna_study"] = study_name
    metrics.metadata["optuna_storage"] = url.split("@")[-1] if "@" in url else url
    metrics.metadata["best_params"] = best
