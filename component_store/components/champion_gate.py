from typing import Annotated, Any, Literal, NamedTuple

from kfp.dsl import Dataset, Input, Model, Output

from component_store.decorator import component


@component(
    name="champion_gate", version="1.1.0", category="model", tags=["registry", "gate", "mlflow"], owner="platform"
)
def champion_gate(
    model: Input[Model],
    test: Input[Dataset],
    approved: Output[Model],
    model_name: str,
    metric: Literal["roc_auc", "average_precision", "f1", "accuracy", "rmse", "mae", "r2"] = "roc_auc",
    min_delta: Annotated[float, (0.0, 1.0)] = 0.0,
) -> NamedTuple("GateOutputs", [("decision", str), ("reason", str)]):  # type: ignore[valid-type]  # noqa: UP014  (the form KFP reads)
    """Let a candidate model through only if it beats the current champion on the same test set.

    Scores the candidate and the registered model's `champion` on these test rows. The
    candidate passes when it is better by at least min_delta, or when there is no
    champion yet. The step answers `decision` (accept or reject) and `reason`; a rejection
    is an answer, not a failure: steps after it run `when: gate.decision == 'accept'`, so a
    rejected candidate ends the run green with registration and serving not run.

    Args:
        model: the candidate model.
        test: the held-out rows both models are scored on.
        approved: the candidate, passed on when it wins.
        model_name: the registered model whose champion to beat.
        metric: the metric to compare; rmse and mae count lower as better.
        min_delta: how much better the candidate must be.
    """
    import shutil

    import mlflow
    import mlflow.sklearn

    from component_store.runtime.models import (
        METRICS,
        check_request,
        load_sklearn,
        model_inputs,
        predict_for_metric,
        score,
    )
    from component_store.runtime.tables import read_table, require_columns
    from component_store.runtime.tracking import start_tracking
    from serving.model_registry import ModelRegistry, RegistryError

    info = model.metadata
    task = info["task"]
    check_request(task, info["family"], metric)
    features, target = model_inputs(model, test)
    candidate = score(task, metric, target, predict_for_metric(task, load_sklearn(model), features))
    start_tracking()
    verdict: dict[str, Any] = {"metric": metric, "candidate": candidate, "champion": None, "champion_version": None}
    try:
        champion = ModelRegistry().resolve(f"{model_name}@champion")
    except RegistryError:
        champion = None
    if champion is not None:
        champion_model = mlflow.sklearn.load_model(f"models:/{model_name}/{champion.version}")
        # The champion may have been trained on other columns: score it on its own features.
        champion_features = [str(c) for c in getattr(champion_model, "feature_names_in_", features.columns)]
        frame = read_table(test)
        require_columns(frame, champion_features, f"champion_gate: champion v{champion.version} needs")
        rows = frame[champion_features].astype("float64")
        best = score(task, metric, target, predict_for_metric(task, champion_model, rows))
        verdict.update(champion=best, champion_version=champion.version)
        higher_is_better = METRICS[task][metric]
        margin = candidate - best if higher_is_better else best - candidate
        if margin < min_delta:
            reason = (
                f"the candidate's {metric} {candidate:.4f} does not beat champion {model_name} "
                f"v{champion.version} ({best:.4f}) by at least {min_delta}"
            )
            print(f"champion_gate: rejected: {reason}")
            return ("reject", reason)
    shutil.copytree(model.path, approved.path)
    approved.metadata.update(info)
    approved.metadata["gate"] = verdict
    reason = f"no champion of {model_name} yet" if champion is None else f"beats champion v{champion.version}"
    return ("accept", reason)
