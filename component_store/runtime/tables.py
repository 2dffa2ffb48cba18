"""Reading and writing tabular `Dataset` artifacts as Parquet, with the schema in metadata."""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

SAMPLE_ROWS_ENV = "TESSERA_SAMPLE_ROWS"


def read_table(artifact: Any) -> pd.DataFrame:
    """The DataFrame stored in a Dataset artifact (anything with a `.path`)."""
    return pd.read_parquet(artifact.path)


def write_table(frame: pd.DataFrame, artifact: Any) -> None:
    """Write `frame` to a Dataset artifact as Parquet (`write_parquet`) and record rows and column types."""
    write_parquet(frame, artifact.path)
    artifact.metadata["rows"] = int(len(frame))
    artifact.metadata["columns"] = {str(c): str(t) for c, t in frame.dtypes.items()}


def write_parquet(frame: pd.DataFrame, path: Any) -> None:
    """`frame` as Parquet without its index, timestamps in microseconds (Spark reads no nanoseconds)."""
    frame.to_parquet(path, index=False, coerce_timestamps="us", allow_truncated_timestamps=True)


def row_limit(max_rows: int) -> int:
    """How many rows a data source keeps: `max_rows` (0 = all), capped in quick mode.

    Quick mode (the runner's `--sample N`) sets `TESSERA_SAMPLE_ROWS=N` for every node.
    """
    sample = int(os.environ.get(SAMPLE_ROWS_ENV, "0") or 0)
    limits = [n for n in (max_rows, sample) if n > 0]
    return min(limits) if limits else 0


def limit_rows(frame: pd.DataFrame, max_rows: int) -> pd.DataFrame:
    """The first `row_limit(max_rows)` rows of `frame` (all of them when there is no limit)."""
    limit = row_limit(max_rows)
    return frame.head(limit).reset_index(drop=True) if limit else frame


def require_columns(frame: Any, columns: list[str], what: str) -> None:
    """Raise a ValueError naming every missing column, with a did-you-mean for each.

    `frame` is anything with `.columns`: a pandas or a Spark DataFrame.
    """
    import difflib

    missing = [c for c in columns if c not in frame.columns]
    if not missing:
        return
    hints = []
    for column in missing:
        close = difflib.get_close_matches(column, [str(c) for c in frame.columns], n=1)
        hints.append(f"'{column}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    raise ValueError(f"{what}: no column {', '.join(hints)}; the table has: {', '.join(map(str, frame.columns))}")


IDENTIFIER_SHARE = 0.9


def identifier_columns(frame: pd.DataFrame, candidates: list[str], min_rows: int = 20) -> list[str]:
    """The candidate columns that hold a different value in at least 90 % of their non-missing rows.

    Such a column (a player id, an e-mail, a device id) names rows instead of describing them: one-hot
    encoding it makes one feature per row and a model that learns ids. Tables under `min_rows` rows
    are too small to tell.
    """
    found = []
    for column in candidates:
        values = frame[column].dropna()
        if len(values) >= min_rows and values.nunique() >= IDENTIFIER_SHARE * len(values):
            found.append(column)
    return found
