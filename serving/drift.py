"""Drift of logged inputs and predictions against a model version's reference, with the statistics
Evidently chooses by default (numpy and scipy only; no monitoring package in the core install).

Per column, by the size of the training data the reference stands for:

- ≤ 1,000 rows: Kolmogorov–Smirnov (numeric with more than 5 distinct values), chi-squared
  (categorical), a two-proportion z-test (two categories); drift when p < 0.05;
- more rows: Wasserstein distance normalised by the reference's standard deviation (numeric),
  Jensen–Shannon distance (categorical); drift when ≥ 0.1.

PSI (10 reference-quantile bins for numeric columns, categories otherwise) is reported beside.
The dataset drifts when at least `drift_share` of the columns drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

SMALL_REFERENCE_ROWS = 1000
P_VALUE_THRESHOLD = 0.05
DISTANCE_THRESHOLD = 0.1
PSI_EPSILON = 1e-4


@dataclass(frozen=True)
class ColumnDrift:
    name: str
    kind: str  # numeric or categorical
    statistic: str  # ks, chi_squared, z_test, wasserstein, jensen_shannon
    value: float  # the p-value for tests, the distance otherwise
    threshold: float
    drifted: bool
    psi: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def column_kind(reference: pd.Series) -> str:
    """numeric for numbers with more than 5 distinct reference values, categorical otherwise."""
    if pd.api.types.is_bool_dtype(reference) or not pd.api.types.is_numeric_dtype(reference):
        return "categorical"
    return "numeric" if reference.nunique(dropna=True) > 5 else "categorical"


def column_drift(name: str, reference: pd.Series, current: pd.Series, reference_rows: int) -> ColumnDrift:
    """Drift of one column (missing values left out of the statistic; data quality reports them)."""
    kind = column_kind(reference)
    ref, cur = reference.dropna(), current.dropna()
    small = reference_rows <= SMALL_REFERENCE_ROWS
    if kind == "numeric":
        ref_values, cur_values = ref.to_numpy(dtype="float64"), pd.to_numeric(cur, errors="coerce").dropna().to_numpy()
        psi = numeric_psi(ref_values, cur_values)
        if small:
            p_value = ks_p_value(ref_values, cur_values)
            return ColumnDrift(name, kind, "ks", p_value, P_VALUE_THRESHOLD, p_value < P_VALUE_THRESHOLD, psi)
        distance = normed_wasserstein(ref_values, cur_values)
        return ColumnDrift(name, kind, "wasserstein", distance, DISTANCE_THRESHOLD, distance >= DISTANCE_THRESHOLD, psi)
    ref_by_value, cur_by_value = category_counts(ref), category_counts(cur)
    categories = sorted(set(ref_by_value.index) | set(cur_by_value.index))
    ref_counts = ref_by_value.reindex(categories, fill_value=0).to_numpy(dtype="float64")
    cur_counts = cur_by_value.reindex(categories, fill_value=0).to_numpy(dtype="float64")
    psi = psi_of_counts(ref_counts, cur_counts)
    if small:
        if len(categories) == 2:
            p_value = proportions_z_test(ref_counts, cur_counts)
            return ColumnDrift(name, kind, "z_test", p_value, P_VALUE_THRESHOLD, p_value < P_VALUE_THRESHOLD, psi)
        p_value = chi_squared_p_value(ref_counts, cur_counts)
        return ColumnDrift(name, kind, "chi_squared", p_value, P_VALUE_THRESHOLD, p_value < P_VALUE_THRESHOLD, psi)
    distance = jensen_shannon(ref_counts, cur_counts)
    return ColumnDrift(name, kind, "jensen_shannon", distance, DISTANCE_THRESHOLD, distance >= DISTANCE_THRESHOLD, psi)


def category_counts(values: pd.Series) -> pd.Series:
    """How often each value occurs, keyed by its text (counted first: a million rows are not turned into
    a million strings)."""
    counts = values.value_counts(dropna=True)
    counts = counts[counts > 0]
    counts.index = counts.index.astype(str)
    return counts.groupby(level=0).sum()


def ks_p_value(reference: np.ndarray, current: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    if len(reference) == 0 or len(current) == 0:
        return 1.0
    return float(ks_2samp(reference, current).pvalue)


def normed_wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    spread = float(np.std(reference)) or 1e-3  # Evidently's floor for a constant reference
    return wasserstein(reference, current) / spread


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """The first Wasserstein distance, ∫|F_ref − F_cur|, equal to scipy's `wasserstein_distance`
    (tests/serving/test_monitoring.py) with one sort instead of scipy's three: a million logged values
    against a reference sample of a thousand is the usual shape.

    Between two neighbours of the pooled, sorted values both CDFs are flat. At position i (counting
    from 1) of the pooled values, i values are ≤ it when the next value is larger (a tie adds a zero-width
    step), of which the reference holds searchsorted(ref, value, 'right'); the rest are current values.
    """
    ref = np.sort(reference)
    pooled = np.sort(np.concatenate([ref, current]))
    widths = np.diff(pooled)
    ref_below = np.searchsorted(ref, pooled[:-1], side="right")
    cur_below = np.arange(1, len(pooled)) - ref_below
    return float(np.abs(ref_below / len(ref) - cur_below / len(current)) @ widths)


def chi_squared_p_value(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Chi-squared goodness of fit of the current counts to the reference's proportions."""
    from scipy.stats import chisquare

    total = current_counts.sum()
    if total == 0 or reference_counts.sum() == 0:
        return 1.0
    expected = reference_counts / reference_counts.sum() * total
    seen = expected > 0
    if (current_counts[~seen] > 0).any():  # a category the reference never had: that is drift
        return 0.0
    return float(chisquare(current_counts[seen], expected[seen]).pvalue)


def proportions_z_test(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Two-sided z-test that the first category's share is the same in both samples (pooled variance)."""
    from scipy.stats import norm

    n_ref, n_cur = reference_counts.sum(), current_counts.sum()
    if n_ref == 0 or n_cur == 0:
        return 1.0
    p_ref, p_cur = reference_counts[0] / n_ref, current_counts[0] / n_cur
    pooled = (reference_counts[0] + current_counts[0]) / (n_ref + n_cur)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / n_ref + 1 / n_cur))
    if spread == 0:
        return 1.0 if p_ref == p_cur else 0.0
    return float(2 * norm.sf(abs(p_ref - p_cur) / spread))


def jensen_shannon(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return 0.0
    return float(jensenshannon(reference_counts / reference_counts.sum(), current_counts / current_counts.sum()))


def numeric_psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """PSI over bins at the reference's quantiles (the outer bins open-ended)."""
    if len(reference) == 0 or len(current) == 0:
        return 0.0
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1))[1:-1])
    ref_counts = np.bincount(np.searchsorted(edges, reference, side="right"), minlength=len(edges) + 1)
    cur_counts = np.bincount(np.searchsorted(edges, current, side="right"), minlength=len(edges) + 1)
    return psi_of_counts(ref_counts.astype("float64"), cur_counts.astype("float64"))


def psi_of_counts(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    if reference_counts.sum() == 0 or current_counts.sum() == 0:
        return 0.0
    ref = np.clip(reference_counts / reference_counts.sum(), PSI_EPSILON, None)
    cur = np.clip(current_counts / current_counts.sum(), PSI_EPSILON, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def data_quality(name: str, reference: pd.Series, current: pd.Series) -> dict[str, Any]:
    """Missing shares, numeric values outside the reference's range, categories the reference never had."""
    quality: dict[str, Any] = {
        "name": name,
        "missing_reference": float(reference.isna().mean()) if len(reference) else 0.0,
        "missing_current": float(current.isna().mean()) if len(current) else 0.0,
    }
    if column_kind(reference) == "numeric":
        values = pd.to_numeric(current, errors="coerce").dropna()
        low, high = reference.min(), reference.max()
        quality["out_of_range"] = float(((values < low) | (values > high)).mean()) if len(values) else 0.0
    else:
        known = set(category_counts(reference).index)
        seen = category_counts(current)
        unseen = seen[~seen.index.isin(known)]
        quality["unseen_share"] = float(unseen.sum() / seen.sum()) if seen.sum() else 0.0
        quality["unseen_categories"] = sorted(unseen.index.tolist())[:10]
    return quality


def dataset_drift(
    reference: pd.DataFrame, current: pd.DataFrame, reference_rows: int, drift_share: float = 0.5
) -> dict[str, Any]:
    """Every shared column's drift, the share that drifted and whether the dataset drifted."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    columns = [c for c in reference.columns if c in current.columns]

    def one(column: str) -> tuple[ColumnDrift, dict[str, Any]]:
        return (
            column_drift(column, reference[column], current[column], reference_rows),
            data_quality(column, reference[column], current[column]),
        )

    # Sorting and searching a million values release the GIL: columns go side by side on every core.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        found = list(pool.map(one, columns))
    drifts = [drift for drift, _ in found]
    share = sum(d.drifted for d in drifts) / len(drifts) if drifts else 0.0
    return {
        "dataset_drift": bool(drifts) and share >= drift_share,
        "drift_share": share,
        "columns": [d.as_dict() for d in drifts],
        "data_quality": [quality for _, quality in found],
    }
