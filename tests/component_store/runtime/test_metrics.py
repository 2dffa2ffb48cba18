"""Metrics for every kind of label: binary (0/1 or strings), multiclass, regression — equal to scikit-learn's own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as m
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from component_store.runtime.evaluation import classification_report
from component_store.runtime.models import predict_for_metric, score


@pytest.fixture(scope="module")
def iris_model():
    frame = load_iris(as_frame=True).frame
    features, target = frame.drop(columns="target"), frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})
    return LogisticRegression(max_iter=500).fit(features, target), features, target


def test_multiclass_scores_are_one_vs_rest_macro_over_the_models_classes(iris_model) -> None:
    model, features, target = iris_model
    predicted = predict_for_metric("classification", model, features)
    assert isinstance(predicted, pd.DataFrame) and list(predicted.columns) == ["setosa", "versicolor", "virginica"]
    matrix = model.predict_proba(features)
    assert score("classification", "roc_auc", target, predicted) == pytest.approx(
        m.roc_auc_score(target, matrix, multi_class="ovr", average="macro")
    )
    assert score("classification", "log_loss", target, predicted) == pytest.approx(m.log_loss(target, matrix))
    assert score("classification", "accuracy", target, predicted) == pytest.approx(
        m.accuracy_score(target, model.predict(features))
    )
    assert score("classification", "f1", target, predicted) == pytest.approx(
        m.f1_score(target, model.predict(features), average="macro")
    )


def test_a_test_set_missing_a_class_is_still_scored_against_all_classes(iris_model) -> None:
    model, features, target = iris_model
    some = target != "virginica"
    predicted = predict_for_metric("classification", model, features[some])
    assert 0.9 < score("classification", "accuracy", target[some], predicted) <= 1.0
    report = classification_report(target[some], predicted, 0.5)
    assert report["recall_virginica"] == 0.0 and "precision_setosa" in report


def test_multiclass_report_has_per_class_precision_and_recall(iris_model) -> None:
    model, features, target = iris_model
    report = classification_report(target, predict_for_metric("classification", model, features), 0.5)
    labels = model.predict(features)
    assert report["recall_versicolor"] == pytest.approx(
        m.recall_score(target, labels, labels=["versicolor"], average=None)[0]
    )
    assert report["roc_auc_weighted"] == pytest.approx(
        m.roc_auc_score(target, model.predict_proba(features), multi_class="ovr", average="weighted")
    )


def test_binary_string_labels_score_the_later_label_as_positive() -> None:
    target = pd.Series(["fair", "cheat", "fair", "cheat", "fair"])
    probability = np.array([0.1, 0.9, 0.6, 0.4, 0.2])  # predict_proba[:, 1]: P(the later label in sorted order)
    report = classification_report(target, probability, 0.5)
    positive = target == "fair"
    assert report["roc_auc"] == pytest.approx(m.roc_auc_score(positive, probability))
    assert report["accuracy"] == pytest.approx(m.accuracy_score(positive, probability >= 0.5))
    assert score("classification", "f1", target, probability) == pytest.approx(m.f1_score(positive, probability >= 0.5))
