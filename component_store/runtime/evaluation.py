"""Test-set evaluation: metrics, KFP metric artifacts and PNG plots logged to MLflow."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from component_store.runtime.models import binary_labels

log = logging.getLogger("tessera.evaluation")


def classification_report(y_true: Any, probability: Any, threshold: float) -> dict[str, float]:
    """Test-set metrics from the positive class's probabilities (binary) or a frame of class probabilities.

    Binary: ROC AUC, PR AUC, F1, precision, recall, accuracy, Brier score at `threshold`. Multiclass:
    one-vs-rest ROC AUC (macro and weighted), log loss, accuracy, macro F1, and precision and recall
    per class (`precision_<class>`, `recall_<class>`); `threshold` does not apply.
    """
    import pandas as pd
    from sklearn import metrics as m

    if isinstance(probability, pd.DataFrame):
        classes = list(probability.columns)
        matrix = probability.to_numpy()
        predicted = np.asarray(classes)[matrix.argmax(axis=1)]
        report = {
            "roc_auc": float(m.roc_auc_score(y_true, matrix, multi_class="ovr", average="macro", labels=classes)),
            "roc_auc_weighted": float(
                m.roc_auc_score(y_true, matrix, multi_class="ovr", average="weighted", labels=classes)
            ),
            "log_loss": float(m.log_loss(y_true, matrix, labels=classes)),
            "accuracy": float(m.accuracy_score(y_true, predicted)),
            "f1": float(m.f1_score(y_true, predicted, average="macro", zero_division=0)),
        }
        precision = m.precision_score(y_true, predicted, labels=classes, average=None, zero_division=0)
        recall = m.recall_score(y_true, predicted, labels=classes, average=None, zero_division=0)
        for name, p, r in zip(classes, precision, recall, strict=True):
            report[f"precision_{name}"], report[f"recall_{name}"] = float(p), float(r)
        return report
    seen = binary_labels(y_true)
    positive = seen[-1]
    predicted = np.where(np.asarray(probability) >= threshold, positive, seen[0])
    return {
        "roc_auc": float(m.roc_auc_score(y_true, probability)),
        "pr_auc": float(m.average_precision_score(y_true, probability, pos_label=positive)),
        "f1": float(m.f1_score(y_true, predicted, pos_label=positive, zero_division=0)),
        "precision": float(m.precision_score(y_true, predicted, pos_label=positive, zero_division=0)),
        "recall": float(m.recall_score(y_true, predicted, pos_label=positive, zero_division=0)),
        "accuracy": float(m.accuracy_score(y_true, predicted)),
        "brier": float(m.brier_score_loss(y_true, probability, pos_label=positive)),
        "threshold": float(threshold),
    }


def regression_report(y_true: Any, predicted: Any) -> dict[str, float]:
    from sklearn import metrics as m

    return {
        "rmse": float(np.sqrt(m.mean_squared_error(y_true, predicted))),
        "mae": float(m.mean_absolute_error(y_true, predicted)),
        "r2": float(m.r2_score(y_true, predicted)),
    }


def classification_curves(y_true: Any, probability: Any, threshold: float, kfp_metrics: Any) -> None:
    """Confusion matrix (and, for a binary model, the ROC curve at most 200 points) into a KFP ClassificationMetrics."""
    import pandas as pd
    from sklearn import metrics as m

    if isinstance(probability, pd.DataFrame):
        classes = list(probability.columns)
        predicted = np.asarray(classes)[probability.to_numpy().argmax(axis=1)]
        matrix = m.confusion_matrix(y_true, predicted, labels=classes)
        kfp_metrics.log_confusion_matrix([str(c) for c in classes], matrix.tolist())
        return
    fpr, tpr, thresholds = m.roc_curve(y_true, probability)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    thresholds = np.clip(thresholds, 0.0, 1.0)  # roc_curve's first threshold is +inf
    kfp_metrics.log_roc_curve(fpr[keep].tolist(), tpr[keep].tolist(), thresholds[keep].tolist())
    seen = binary_labels(y_true)
    predicted = np.where(np.asarray(probability) >= threshold, seen[-1], seen[0])
    matrix = m.confusion_matrix(y_true, predicted, labels=seen)
    kfp_metrics.log_confusion_matrix([str(c) for c in seen], matrix.tolist())


def log_classification_plots(run_id: str, y_true: Any, probability: Any) -> list[str]:
    """ROC, precision-recall and calibration PNGs, logged to the model's MLflow run under `evaluation/`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    if isinstance(probability, pd.DataFrame):  # multiclass: the confusion matrix says most
        classes = np.asarray(probability.columns)
        predicted = classes[probability.to_numpy().argmax(axis=1)]
        plots = [("confusion_matrix.png", lambda ax: ConfusionMatrixDisplay.from_predictions(y_true, predicted, ax=ax))]
    else:
        positive = binary_labels(y_true)[-1]
        plots = [
            ("roc_curve.png", lambda ax: RocCurveDisplay.from_predictions(y_true, probability, pos_label=positive, ax=ax)),
            ("precision_recall.png",
             lambda ax: PrecisionRecallDisplay.from_predictions(y_true, probability, pos_label=positive, ax=ax)),
            ("calibration.png",
             lambda ax: CalibrationDisplay.from_predictions(y_true, probability, n_bins=10, pos_label=positive, ax=ax)),
        ]  # fmt: skip
    names = []
    with tempfile.TemporaryDirectory() as folder:
        for name, draw in plots:
            figure, axes = plt.subplots(figsize=(5, 4))
            draw(axes)
            axes.set_title(name.removesuffix(".png").replace("_", " "))
            figure.tight_layout()
            path = Path(folder) / name
            figure.savefig(path, dpi=90)
            plt.close(figure)
            MlflowClient().log_artifact(run_id, str(path), artifact_path="evaluation")
            names.append(f"evaluation/{name}")
    return names


def feature_importance(
    predict: Any, features: Any, y_true: Any, metric: Any, *, rows: int = 2000, repeats: int = 3, top: int = 20
) -> dict[str, float]:
    """`permutation_importance`, or nothing and a warning where it fails (a model that refuses shuffled
    values, a metric undefined on the sample): importance explains a model, it never fails its evaluation."""
    try:
        return permutation_importance(predict, features, y_true, metric, rows=rows, repeats=repeats, top=top)
    except Exception as exc:  # any model, any metric: whatever it is, the evaluation goes on
        log.warning("feature importance skipped: %s: %s", type(exc).__name__, str(exc)[:200])
        return {}


def permutation_importance(
    predict: Any, features: Any, y_true: Any, metric: Any, *, rows: int = 2000, repeats: int = 3, top: int = 20
) -> dict[str, float]:
    """Permutation importance of each feature on the test rows: how much `metric(y_true, predict(features))`
    falls when that column's values are shuffled (the mean of `repeats` shuffles), for any kind of model
    (a scikit-learn pipeline, a booster, a torch pyfunc). Scikit-learn's `permutation_importance` does the
    shuffling; `predict` only has to take a frame. The `top` features, largest first; at most `rows` rows
    (a seeded sample), so a large test set costs seconds, not minutes.
    """
    import pandas as pd
    from sklearn import inspection

    if len(features) > rows:
        chosen = np.random.default_rng(0).choice(len(features), size=rows, replace=False)
        features, y_true = features.iloc[np.sort(chosen)], pd.Series(np.asarray(y_true)[np.sort(chosen)])

    class _Predictor:  # all permutation_importance asks of an estimator is what its scorer calls
        def fit(self, *_: Any) -> _Predictor:  # scikit-learn's check_scoring refuses an object without fit
            return self

    def scorer(_: Any, shuffled: Any, target: Any) -> float:
        return float(metric(target, predict(pd.DataFrame(shuffled, columns=features.columns))))

    found = inspection.permutation_importance(
        _Predictor(), features, y_true, scoring=scorer, n_repeats=repeats, random_state=0
    )
    ranked = sorted(zip(features.columns, found.importances_mean, strict=True), key=lambda pair: -pair[1])
    return {str(name): round(float(value), 6) for name, value in ranked[:top]}
