"""Test-set evaluation: metrics, KFP metric artifacts and PNG plots logged to MLflow."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def classification_report(y_true: Any, probability: Any, threshold: float) -> dict[str, float]:
    from sklearn import metrics as m

    predicted = (np.asarray(probability) >= threshold).astype(int)
    return {
        "roc_auc": float(m.roc_auc_score(y_true, probability)),
        "pr_auc": float(m.average_precision_score(y_true, probability)),
        "f1": float(m.f1_score(y_true, predicted, zero_division=0)),
        "precision": float(m.precision_score(y_true, predicted, zero_division=0)),
        "recall": float(m.recall_score(y_true, predicted, zero_division=0)),
        "accuracy": float(m.accuracy_score(y_true, predicted)),
        "brier": float(m.brier_score_loss(y_true, probability)),
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
    """ROC curve (at most 200 points) and confusion matrix into a KFP ClassificationMetrics artifact."""
    from sklearn import metrics as m

    fpr, tpr, thresholds = m.roc_curve(y_true, probability)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), 200)).astype(int))
    thresholds = np.clip(thresholds, 0.0, 1.0)  # roc_curve's first threshold is +inf
    kfp_metrics.log_roc_curve(fpr[keep].tolist(), tpr[keep].tolist(), thresholds[keep].tolist())
    predicted = (np.asarray(probability) >= threshold).astype(int)
    matrix = m.confusion_matrix(y_true, predicted, labels=[0, 1])
    kfp_metrics.log_confusion_matrix(["0", "1"], matrix.tolist())


def log_classification_plots(run_id: str, y_true: Any, probability: Any) -> list[str]:
    """ROC, precision-recall and calibration PNGs, logged to the model's MLflow run under `evaluation/`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from mlflow import MlflowClient
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import PrecisionRecallDisplay, RocCurveDisplay

    names = []
    with tempfile.TemporaryDirectory() as folder:
        for name, draw in (
            ("roc_curve.png", lambda ax: RocCurveDisplay.from_predictions(y_true, probability, ax=ax)),
            ("precision_recall.png", lambda ax: PrecisionRecallDisplay.from_predictions(y_true, probability, ax=ax)),
            ("calibration.png", lambda ax: CalibrationDisplay.from_predictions(y_true, probability, n_bins=10, ax=ax)),
        ):
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
