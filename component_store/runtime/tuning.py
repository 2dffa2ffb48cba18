"""Optuna tuning for `tune_optuna`: cross-validated objective, median pruning across folds,
parallel workers as processes sharing one RDB study, each trial a nested MLflow run."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from component_store.runtime.models import (
    METRICS,
    SEARCH_SPACES,
    FitOptions,
    build_estimator,
    check_request,
    fit_estimator,
    predict_for_metric,
    score,
)


@dataclass(frozen=True)
class TuningJob:
    """Everything a worker process needs to run trials (picklable)."""

    data_path: str
    label: str
    drop_columns: tuple[str, ...]
    task: str
    family: str
    metric: str
    space: dict[str, dict[str, Any]]
    folds: int
    class_weight: str
    seed: int
    study_name: str
    storage: str
    parent_run_id: str | None
    tracking_uri: str | None
    experiment_id: str | None


def search_space(task: str, family: str, overrides: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The family's built-in space with user overrides (`{"max_depth": {"low": 2, "high": 6}}` or a fixed value)."""
    check_request(task, family, params=dict.fromkeys(overrides))
    space = {name: dict(spec) for name, spec in SEARCH_SPACES[family].items()}
    for name, override in overrides.items():
        if isinstance(override, dict):
            unknown = set(override) - {"type", "low", "high", "log", "choices"}
            if unknown:
                raise ValueError(
                    f"search_space['{name}'] has unknown keys {sorted(unknown)}; use low, high, log or choices"
                )
            space[name] = {**space.get(name, {}), **override}
        else:
            space[name] = {"type": "fixed", "value": override}
    return space


def check_storage(storage: str, workers: int) -> None:
    if workers > 1 and storage.startswith("sqlite"):
        raise ValueError(
            "tune_optuna: SQLite storage cannot take parallel workers (its single writer lock serialises them "
            "and they fail with 'database is locked'); use a PostgreSQL or MySQL storage URL, or workers=1"
        )


def suggest(trial: Any, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    params = {}
    for name, spec in space.items():
        kind = spec.get("type", "float")
        if kind == "fixed":
            params[name] = spec["value"]
        elif "choices" in spec:
            params[name] = trial.suggest_categorical(name, spec["choices"])
        elif kind == "int":
            params[name] = trial.suggest_int(name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log")))
        else:
            params[name] = trial.suggest_float(name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log")))
    return params


def load_xy(job: TuningJob) -> tuple[Any, Any]:
    import pandas as pd

    from component_store.runtime.models import features_and_label

    return features_and_label(pd.read_parquet(job.data_path), job.label, list(job.drop_columns))


def make_objective(job: TuningJob, features: Any, target: Any) -> Any:
    """The CV objective: report the running mean after each fold so the median pruner can stop bad trials."""
    import numpy as np
    import optuna
    from sklearn.model_selection import KFold, StratifiedKFold

    splitter = (StratifiedKFold if job.task == "classification" else KFold)(
        n_splits=job.folds, shuffle=True, random_state=job.seed
    )
    splits = list(splitter.split(features, target))
    fit_options = FitOptions(class_weight=job.class_weight, seed=job.seed)

    def objective(trial: optuna.Trial) -> float:
        params = suggest(trial, job.space)
        scores = []
        for step, (fit_rows, check_rows) in enumerate(splits):
            estimator = build_estimator(job.task, job.family, params, job.class_weight, job.seed)
            fit_estimator(estimator, features.iloc[fit_rows], target.iloc[fit_rows], fit_options)
            predicted = predict_for_metric(job.task, estimator, features.iloc[check_rows])
            scores.append(score(job.task, job.metric, target.iloc[check_rows], predicted))
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    return objective


def log_trials_to_mlflow(job: TuningJob, study: Any) -> None:
    """Log every trial as a child run of the tuning run, from this one process.

    Done after the study, not from the workers: parallel workers writing to one SQLite
    tracking store serialise on its lock and slowed two workers ~14x in the benchmark.
    """
    if job.parent_run_id is None or job.experiment_id is None:
        return
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    client = MlflowClient(tracking_uri=job.tracking_uri)
    for trial in study.trials:
        run = client.create_run(
            job.experiment_id,
            run_name=f"trial-{trial.number}",
            tags={
                "mlflow.parentRunId": job.parent_run_id,
                "optuna.study": job.study_name,
                "optuna.state": trial.state.name,
            },
        )
        finished = (
            int((trial.datetime_complete or trial.datetime_start).timestamp() * 1000) if trial.datetime_start else 0
        )
        metrics = [Metric(f"cv_{job.metric}", trial.value, finished, 0)] if trial.value is not None else []
        client.log_batch(run.info.run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in trial.params.items()])
        client.set_terminated(run.info.run_id, "FINISHED" if trial.state.name == "COMPLETE" else "KILLED")
    log_study_plots(client, job.parent_run_id, study)


def log_study_plots(client: Any, run_id: str, study: Any) -> None:
    """Optimisation history and parameter importances as PNGs under `tuning/` in the tuning run."""
    import tempfile
    import warnings
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as optuna_plots

    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    plots: dict[str, Any] = {"optimization_history.png": optuna_plots.plot_optimization_history}
    if len(complete) >= 2 and len(study.best_params) >= 2:
        plots["param_importances.png"] = optuna_plots.plot_param_importances
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # optuna marks its matplotlib plots experimental
        for name, draw in plots.items():
            figure: Any = draw(study).figure
            figure.set_size_inches(6, 4)
            figure.tight_layout()
            path = Path(folder) / name
            figure.savefig(path, dpi=90)
            plt.close(figure)
            client.log_artifact(run_id, str(path), artifact_path="tuning")


def run_worker(job: TuningJob, n_trials: int, timeout: float | None, worker: int, threads: int = 0) -> int:
    """Run `n_trials` trials of the shared study in this process; returns how many finished.

    `threads` caps the native thread pools (OpenMP, BLAS): parallel workers that each
    spin up one thread per core oversubscribe the machine, and OpenMP's busy-waiting then
    makes them many times slower than one worker.
    """
    import optuna
    import sklearn.ensemble  # noqa: F401 - loads OpenMP first: threadpoolctl limits only libraries already loaded
    from threadpoolctl import threadpool_limits

    if threads:
        threadpool_limits(threads)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    features, target = load_xy(job)
    study = optuna.load_study(
        study_name=job.study_name, storage=job.storage, sampler=optuna.samplers.TPESampler(seed=job.seed + worker)
    )
    before = len(study.trials)
    study.optimize(
        make_objective(job, features, target),
        n_trials=n_trials,
        timeout=timeout,
        gc_after_trial=False,
    )
    return len(study.trials) - before


def create_study(job: TuningJob) -> Any:
    import optuna

    direction: Literal["maximize", "minimize"] = "maximize" if METRICS[job.task][job.metric] else "minimize"
    return optuna.create_study(
        study_name=job.study_name, storage=job.storage, direction=direction, load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=job.seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )  # fmt: skip


def optimize(job: TuningJob, n_trials: int, timeout: float | None, workers: int) -> Any:
    """Run the study with `workers` processes (spawned: no fork after threads) and return it."""
    create_study(job)
    if workers == 1:
        run_worker(job, n_trials, timeout, 0)
    else:
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_context

        shares = [n_trials // workers + (1 if i < n_trials % workers else 0) for i in range(workers)]
        threads = max(1, (os.cpu_count() or 1) // workers)
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            list(
                pool.map(run_worker, [job] * workers, shares, [timeout] * workers, range(workers), [threads] * workers)
            )
    study = create_study(job)
    log_trials_to_mlflow(job, study)
    return study


def default_storage() -> str:
    return os.environ.get("TESSERA_OPTUNA_STORAGE") or "sqlite:///optuna.db"
