"""evaluate → champion gate → register → batch predict, on breast_cancer, against a real MLflow store."""

import json
import os
import re

import pandas as pd
import pytest
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Metrics, Model
from mlflow import MlflowClient

from component_store.components.batch_predict import batch_predict
from component_store.components.champion_gate import champion_gate
from component_store.components.evaluate_classifier import evaluate_classifier
from component_store.components.evaluate_regressor import evaluate_regressor
from component_store.components.register_model import register_model
from component_store.components.train_classifier import train_classifier
from component_store.components.train_regressor import train_regressor
from serving.model_registry import ModelRegistry


def trained(cancer_split, output, name, **params):
    model = output(name, Model)
    train_classifier(
        train=cancer_split[0], model=model, metrics=output(f"{name}-train-metrics", Metrics), label="target", **params
    )
    return model


def evaluated(cancer_split, output, model, name):
    metrics, curves = output(f"{name}-metrics", Metrics), output(f"{name}-curves", ClassificationMetrics)
    evaluate_classifier(model=model, test=cancer_split[1], metrics=metrics, curves=curves)
    return metrics, curves


def test_evaluate_classifier_metrics_curves_and_plots(mlflow_env, cancer_split, output):
    model = trained(cancer_split, output, "model", family="logistic")
    metrics, curves = evaluated(cancer_split, output, model, "eval")
    assert metrics.metadata["roc_auc"] > 0.97 and 0.9 < metrics.metadata["f1"] <= 1
    assert {"pr_auc", "precision", "recall", "brier", "threshold"} <= set(metrics.metadata)
    matrix = curves.metadata["confusionMatrix"]["rows"]
    assert sum(sum(row["row"]) for row in matrix) == len(pd.read_parquet(cancer_split[1].path))
    assert len(curves.metadata["confidenceMetrics"]) <= 200
    run = MlflowClient().get_run(model.metadata["mlflow_run_id"])
    assert run.data.metrics["test_roc_auc"] == pytest.approx(metrics.metadata["roc_auc"], abs=1e-6)
    plots = {a.path for a in MlflowClient().list_artifacts(run.info.run_id, "evaluation")}
    assert plots == {"evaluation/roc_curve.png", "evaluation/precision_recall.png", "evaluation/calibration.png",
                     "evaluation/feature_importance.json"}  # fmt: skip
    importance = metrics.metadata["feature_importance"]
    assert len(importance) == 20 and list(importance.values()) == sorted(importance.values(), reverse=True)
    assert set(importance) <= set(model.metadata["features"])
    logged = MlflowClient().download_artifacts(run.info.run_id, "evaluation/feature_importance.json")
    assert json.loads(open(logged).read()) == importance


def test_feature_importance_is_scikit_learns_permutation_importance() -> None:
    """The same numbers as scikit-learn's own call with an estimator and a named scorer."""
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score

    from component_store.runtime.evaluation import feature_importance

    rng = np.random.default_rng(1)
    features = pd.DataFrame(rng.normal(size=(500, 4)), columns=["signal", "weak", "noise", "more noise"])
    label = (features.signal + 0.3 * features.weak + rng.normal(scale=0.5, size=500) > 0).astype(int)
    model = RandomForestClassifier(n_estimators=30, random_state=0).fit(features, label)
    ours = feature_importance(lambda f: model.predict_proba(f)[:, 1], features, label, roc_auc_score)
    theirs = permutation_importance(model, features, label, scoring="roc_auc", n_repeats=3, random_state=0)
    assert ours == {c: round(float(v), 6) for c, v in zip(features.columns, theirs.importances_mean, strict=True)}
    assert list(ours)[:2] == ["signal", "weak"]


def test_importance_that_cannot_be_computed_is_left_out_with_a_warning_and_never_fails_the_evaluation(caplog) -> None:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from component_store.runtime.evaluation import feature_importance

    features = pd.DataFrame({"spend": np.arange(40.0), "country": ["BR", "KR"] * 20})
    label = (features.spend > 20).astype(int)
    seen: list[int] = []

    def refuses_shuffled(frame: pd.DataFrame) -> np.ndarray:  # e.g. a model that checks its input's order
        seen.append(len(frame))
        if len(seen) > 1:
            raise ValueError("input rows changed since the model was validated")
        return frame.spend.to_numpy() / 40

    with caplog.at_level("WARNING", logger="tessera.evaluation"):
        assert feature_importance(refuses_shuffled, features, label, roc_auc_score) == {}
    assert "feature importance skipped: ValueError: input rows changed" in caplog.text
    works = feature_importance(lambda f: f.spend.to_numpy() / 40, features, label, roc_auc_score)
    assert list(works) == ["spend", "country"] and works["spend"] > 0 == works["country"]


def test_evaluate_regressor(mlflow_env, dataset, output):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True).frame
    model = output("model", Model)
    train_regressor(
        train=dataset(frame.iloc[:300], "train"),
        model=model,
        metrics=output("m", Metrics),
        label="target",
        family="linear",
    )
    metrics = output("metrics", Metrics)
    evaluate_regressor(model=model, test=dataset(frame.iloc[300:], "test"), metrics=metrics)
    assert 30 < metrics.metadata["rmse"] < 80 and metrics.metadata["r2"] > 0.3
    importance = metrics.metadata["feature_importance"]
    assert set(importance) == set(frame.columns) - {"target"} and max(importance, key=importance.get) in {"bmi", "s5"}


def test_champion_gate_register_model_batch_predict_with_lineage(mlflow_env, cancer_split, output):
    good = trained(cancer_split, output, "good", family="logistic")
    good_metrics, _ = evaluated(cancer_split, output, good, "good")

    approved = output("approved", Model)
    decision, _ = champion_gate(
        model=good, test=cancer_split[1], approved=approved, model_name="cancer", metric="roc_auc"
    )
    assert decision == "accept"
    assert approved.metadata["gate"]["champion"] is None, "no champion yet: the gate lets it through"

    registered = output("registered", Artifact)
    register_model(model=approved, metrics=good_metrics, registered=registered, model_name="cancer")
    assert registered.metadata["version"] == "1" and registered.metadata["created"] is True
    assert set(registered.metadata["aliases"]) == {"challenger", "champion"}, "the first version becomes champion"
    assert json.loads(open(registered.path).read())["model_uri"] == "models:/cancer/1"

    # Lineage read back with the plain MlflowClient: version -> run, node, component, data.
    client = MlflowClient()
    version = client.get_model_version("cancer", "1")
    assert version.tags["tessera.run_id"] == "run-1" and version.tags["tessera.node"] == "train"
    assert version.tags["tessera.component"] == "train_classifier@1.0.0"
    assert version.tags["tessera.data_fingerprint"] == good.metadata["data_fingerprint"]
    assert float(version.tags["tessera.metric.roc_auc"]) == pytest.approx(good_metrics.metadata["roc_auc"])
    training_run = client.get_run(version.tags["tessera.training_run"])
    assert training_run.data.tags["tessera.workflow"] == "risk/test"

    again = output("again", Artifact)
    register_model(model=approved, metrics=good_metrics, registered=again, model_name="cancer")
    assert again.metadata["version"] == "1" and again.metadata["created"] is False, "same model: no duplicate"

    worse = trained(cancer_split, output, "worse", family="random_forest", n_estimators=10, max_depth=1)
    blocked = output("blocked", Model)
    decision, reason = champion_gate(
        model=worse, test=cancer_split[1], approved=blocked, model_name="cancer", min_delta=0.0
    )  # a rejection is an answer that `when:` conditions read, not a failure
    assert decision == "reject" and re.match(
        r"the candidate's roc_auc 0\.9\d+ does not beat champion cancer v1", reason
    )
    assert not os.path.exists(blocked.path), "a rejected candidate is not passed on"

    scored = output("scored", Dataset)
    batch_predict(table=cancer_split[1], model=again, scored=scored)  # the version register_model registered
    frame = pd.read_parquet(scored.path)
    assert {"prediction", "prediction_probability"} <= set(frame.columns)
    assert ((frame.prediction == frame.target).mean()) > 0.95
    assert scored.metadata["model"] == "models:/cancer/1"

    from_trainer = output("from_trainer", Dataset)
    batch_predict(table=cancer_split[1], model=approved, scored=from_trainer)  # or the trainer's model itself
    assert pd.read_parquet(from_trainer.path)["prediction_probability"].equals(frame["prediction_probability"])
    with pytest.raises(ValueError, match="neither an MLflow model .* nor a registered version"):
        batch_predict(table=cancer_split[1], model=output("nothing", Artifact), scored=output("never", Dataset))


def test_register_model_then_promote_and_rollback(mlflow_env, cancer_split, output):
    registry = ModelRegistry()
    for name, family in (("a", "logistic"), ("b", "hist_gradient_boosting")):
        model = trained(cancer_split, output, name, family=family)
        metrics, _ = evaluated(cancer_split, output, model, name)
        register_model(model=model, metrics=metrics, registered=output(f"{name}-reg", Artifact), model_name="cancer")
    assert registry.resolve("cancer@champion").version == "1"
    assert registry.resolve("cancer@challenger").version == "2"
    registry.promote("cancer", "2", "champion")
    assert registry.resolve("cancer@champion").version == "2"
    assert registry.rollback("cancer", "champion").version == "1"
    assert registry.resolve("cancer@champion").version == "1"
    from serving.model_registry import RegistryError

    with pytest.raises(RegistryError, match="no earlier version"):
        registry.rollback("cancer", "champion")
    with pytest.raises(RegistryError, match="did you mean 'cancer'"):
        registry.resolve("cancr@champion")
    with pytest.raises(RegistryError, match="no alias 'champon' \\(did you mean 'champion'\\?\\)"):
        registry.resolve("cancer@champon")


def test_evaluate_classifier_names_missing_feature_columns(mlflow_env, cancer_split, output, dataset):
    model = trained(cancer_split, output, "model", family="logistic")
    test = pd.read_parquet(cancer_split[1].path).rename(columns={"mean radius": "mean radus"})
    with pytest.raises(ValueError, match="no column 'mean radius' \\(did you mean 'mean radus'\\?\\)"):
        evaluate_classifier(
            model=model,
            test=dataset(test, "renamed"),
            metrics=output("m", Metrics),
            curves=output("c", ClassificationMetrics),
        )
