"""The numpy fast path for scaled linear models gives scikit-learn's own numbers, or is not used."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from serving.linear_kernels import linear_kernel


def cancer():
    frame = load_breast_cancer(as_frame=True).frame
    return frame.drop(columns="target"), frame["target"]


def iris():
    frame = load_iris(as_frame=True).frame
    return frame.drop(columns="target"), frame["target"].map({0: "setosa", 1: "versicolor", 2: "virginica"})


def diabetes():
    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.drop(columns="target"), frame["target"]


CASES = {
    "scaled logistic": (cancer, lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))),
    "with_mean=False (the bug)": (cancer, lambda: make_pipeline(StandardScaler(with_mean=False), LogisticRegression(max_iter=5000))),
    "with_std=False": (cancer, lambda: make_pipeline(StandardScaler(with_std=False), LogisticRegression(max_iter=5000))),
    "two scalers": (cancer, lambda: make_pipeline(StandardScaler(), StandardScaler(with_mean=False), LogisticRegression(max_iter=5000))),
    "multinomial, text labels": (iris, lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))),
    "ridge": (diabetes, lambda: make_pipeline(StandardScaler(with_mean=False), Ridge())),
    "plain linear regression": (diabetes, lambda: LinearRegression()),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_the_kernel_equals_scikit_learn_on_held_data(case: str) -> None:
    load, build = CASES[case]
    features, target = load()
    estimator = build().fit(features, target)
    kernel = linear_kernel(estimator)
    assert kernel is not None, f"{case} is served by the fast path"
    ours = kernel(features.to_numpy(dtype="float64"))
    if hasattr(estimator, "predict_proba"):
        theirs = estimator.predict_proba(features)
        theirs = theirs[:, 1] if theirs.shape[1] == 2 else theirs
        assert np.abs(ours["probabilities"] - theirs).max() < 1e-9
    assert np.array_equal(np.asarray(ours["predictions"]), np.asarray(estimator.predict(features))) or np.allclose(
        ours["predictions"], estimator.predict(features), rtol=1e-9
    )


def test_anything_else_is_left_to_scikit_learn() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    features, target = cancer()
    assert linear_kernel(HistGradientBoostingClassifier(max_iter=5).fit(features, target)) is None
    assert isinstance(features, pd.DataFrame)
