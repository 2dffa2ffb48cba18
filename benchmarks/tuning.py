"""Tuning throughput: Tessera's `tune_optuna` vs a plain Optuna script on the same objective.

    .venv/bin/python benchmarks/tuning.py [--trials 50] [--players 5000]

Both tune hist_gradient_boosting on the player-risk table (3-fold CV ROC AUC, TPE with the
same seed, median pruning, the same search space) and refit the best on all rows. Tessera
adds what the component does: an MLflow run with a nested run per trial, the model
logged with its signature, lineage tags. One worker uses SQLite storage; two workers use
the PostgreSQL that runs on this machine (SQLite cannot take parallel writers), for both.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

POSTGRES = os.environ.get("TESSERA_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def plain_worker(data: str, storage: str, study_name: str, trials: int, seed: int, workers_sharing: int = 1) -> None:
    import numpy as np
    import optuna
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold
    from threadpoolctl import threadpool_limits

    if workers_sharing > 1:  # same cap as tune_optuna: one core's worth of threads per worker
        threadpool_limits(max(1, (os.cpu_count() or 1) // workers_sharing))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    frame = pd.read_parquet(data)
    x, y = frame.drop(columns=["is_cheater", "player_id"]).astype("float64"), frame["is_cheater"]
    splits = list(StratifiedKFold(3, shuffle=True, random_state=42).split(x, y))

    def objective(trial: optuna.Trial) -> float:
        params = {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.3, log=True),
            "max_iter": trial.suggest_int("max_iter", 50, 400),
            "max_depth": trial.suggest_int("max_depth", 2, 12),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
        }
        scores = []
        for step, (fit, check) in enumerate(splits):
            model = HistGradientBoostingClassifier(class_weight="balanced", random_state=42, **params)
            model.fit(x.iloc[fit], y.iloc[fit])
            scores.append(roc_auc_score(y.iloc[check], model.predict_proba(x.iloc[check])[:, 1]))
            trial.report(float(np.mean(scores)), step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return float(np.mean(scores))

    study = optuna.load_study(study_name=study_name, storage=storage, sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)


def plain(data: str, storage: str, trials: int, workers: int) -> float:
    import optuna
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingClassifier

    start = time.perf_counter()
    name = f"plain-{uuid.uuid4().hex[:8]}"
    optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=42),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    if workers == 1:
        plain_worker(data, storage, name, trials, 42)
    else:
        shares = [trials // workers + (1 if i < trials % workers else 0) for i in range(workers)]
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            list(
                pool.map(
                    plain_worker,
                    [data] * workers,
                    [storage] * workers,
                    [name] * workers,
                    shares,
                    [42 + i for i in range(workers)],
                    [workers] * workers,
                )
            )
    best = optuna.load_study(study_name=name, storage=storage).best_params
    if workers > 1:
        optuna.delete_study(study_name=name, storage=storage)  # leave the shared PostgreSQL as we found it
    frame = pd.read_parquet(data)
    HistGradientBoostingClassifier(class_weight="balanced", random_state=42, **best).fit(
        frame.drop(columns=["is_cheater", "player_id"]).astype("float64"), frame["is_cheater"]
    )
    return time.perf_counter() - start


def tessera(data: str, storage: str, trials: int, workers: int, folder: Path) -> float:
    from kfp.dsl import Dataset, Metrics, Model

    from component_store.components.tune_optuna import tune_optuna

    os.environ.update({
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}", "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false", "TESSERA_MLFLOW_ARTIFACTS": (folder / "mlartifacts").as_uri(),
        "TESSERA_RUN_ID": uuid.uuid4().hex[:8],
    })  # fmt: skip
    run = folder / uuid.uuid4().hex[:6]
    run.mkdir()
    start = time.perf_counter()
    tune_optuna(
        train=Dataset(uri=data),
        model=Model(uri=str(run / "model")),
        metrics=Metrics(uri=str(run / "metrics")),
        label="is_cheater",
        family="hist_gradient_boosting",
        n_trials=trials,
        storage=storage,
        workers=workers,
        drop_columns=["player_id"],
    )
    elapsed = time.perf_counter() - start
    if workers > 1:  # leave the shared PostgreSQL as we found it
        import optuna

        for summary in optuna.get_all_study_summaries(storage):
            if summary.study_name.startswith(f"adhoc/{os.environ['TESSERA_RUN_ID']}/"):
                optuna.delete_study(study_name=summary.study_name, storage=storage)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--players", type=int, default=5000)
    args = parser.parse_args()
    from component_store.runtime.player_risk import player_risk_table

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        data = str(folder / "players.parquet")
        player_risk_table(args.players).drop(columns=["country", "platform"]).fillna(0).to_parquet(data, index=False)
        tessera(data, f"sqlite:///{folder / 'warm.db'}", 2, 1, folder)  # warm imports and the MLflow store
        results = {}
        for workers in (1, 2):
            storage = f"sqlite:///{folder / f'optuna-{workers}.db'}" if workers == 1 else POSTGRES
            results[("plain", workers)] = plain(data, storage if workers == 1 else POSTGRES, args.trials, workers)
            storage = f"sqlite:///{folder / f'optuna-t{workers}.db'}" if workers == 1 else POSTGRES
            results[("tessera", workers)] = tessera(data, storage, args.trials, workers, folder)
    print(f"{args.trials} trials, hist_gradient_boosting, 3-fold CV, {args.players} players, wall seconds incl. refit")
    print(
        "| workers | plain optuna s | tessera tune_optuna s | plain trials/min | tessera trials/min | tessera / plain |"
    )
    print("|---|---|---|---|---|---|")
    for workers in (1, 2):
        p, t = results[("plain", workers)], results[("tessera", workers)]
        print(
            f"| {workers} | {p:.1f} | {t:.1f} | {60 * args.trials / p:.0f} | {60 * args.trials / t:.0f} | {t / p:.2f}x |"
        )


if __name__ == "__main__":
    main()
