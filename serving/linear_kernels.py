"""Linear models as numpy arithmetic: the same numbers as scikit-learn, without its per-call checks.

scikit-learn spends ≈0.5 ms validating a one-row input on every `predict_proba` call (array and
dataframe checks through narwhals); the arithmetic of a scaled linear model on 30 columns takes
microseconds. For a pipeline of `StandardScaler` steps ending in a linear model, `linear_kernel`
returns a function computing exactly what the pipeline computes; anything else gets None and is
served by the estimator itself. The server's decoder has already checked shape, order and
finiteness, which is all scikit-learn's checks would have done.

Every kernel is checked against the estimator on random rows when it is built, and not used
(None) unless it gives the same labels and values within 1e-9: a case this module gets wrong is
served more slowly, never wrongly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

Outputs = dict[str, np.ndarray]


def linear_kernel(estimator: Any) -> Callable[[np.ndarray], Outputs] | None:
    """A numpy predictor equal to `estimator` when it is [StandardScaler...] + a linear model, else None."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    steps = [step for _, step in estimator.steps] if isinstance(estimator, Pipeline) else [estimator]
    *scalers, final = steps
    if not all(type(s) is StandardScaler for s in scalers):
        return None
    shift = np.zeros(final.coef_.shape[-1]) if hasattr(final, "coef_") else None
    if shift is None:
        return None
    scale = np.ones_like(shift)
    for scaler in scalers:  # fold the scalers into one affine map: x -> (x - shift) / scale
        # StandardScaler(with_mean=False) still computes mean_, but does not subtract it
        mean = scaler.mean_ if scaler.with_mean and scaler.mean_ is not None else np.zeros_like(shift)
        std = scaler.scale_ if scaler.with_std and scaler.scale_ is not None else np.ones_like(shift)
        shift, scale = shift + mean * scale, scale * std
    coef = np.atleast_2d(final.coef_) / scale
    intercept = np.atleast_1d(final.intercept_) - coef @ shift

    kernel = _kernel(final, coef, intercept)
    return kernel if kernel is not None and _same_as(estimator, kernel, shift, scale) else None


def _kernel(final: Any, coef: np.ndarray, intercept: np.ndarray) -> Callable[[np.ndarray], Outputs] | None:
    from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, LogisticRegression, Ridge

    if type(final) is LogisticRegression:
        classes = np.asarray(final.classes_)

        def classify(matrix: np.ndarray) -> Outputs:
            scores = matrix @ coef.T + intercept
            if coef.shape[0] == 1:
                positive = 1.0 / (1.0 + np.exp(-scores[:, 0]))
                labels = classes[(positive > 0.5).astype(int)]
                return {"predictions": labels, "probabilities": positive}
            scores -= scores.max(axis=1, keepdims=True)
            probabilities = np.exp(scores)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            return {"predictions": classes[probabilities.argmax(axis=1)], "probabilities": probabilities}

        return classify
    if type(final) in (LinearRegression, Ridge, Lasso, ElasticNet):
        single = np.ndim(final.coef_) == 1

        def regress(matrix: np.ndarray) -> Outputs:
            values = matrix @ coef.T + intercept
            return {"predictions": values[:, 0] if single else values}

        return regress
    return None


def _same_as(estimator: Any, kernel: Callable[[np.ndarray], Outputs], shift: np.ndarray, scale: np.ndarray) -> bool:
    """The kernel's answers equal the estimator's on 64 random rows around the training data."""
    import warnings

    rows = shift + scale * np.random.default_rng(0).normal(size=(64, shift.shape[0]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feature-name warnings: the kernel takes a bare matrix too
        ours = kernel(rows)
        if "probabilities" in ours:
            theirs = estimator.predict_proba(rows)
            theirs = theirs[:, 1] if theirs.shape[1] == 2 else theirs
            same = np.allclose(ours["probabilities"], theirs, rtol=0, atol=1e-9)
            return bool(same and np.array_equal(ours["predictions"], estimator.predict(rows)))
        return bool(np.allclose(ours["predictions"], estimator.predict(rows), rtol=1e-9, atol=1e-9))
