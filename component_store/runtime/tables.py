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


EXPORT_SUFFIXES = {"parquet": (".parquet", ".pq"), "jsonl": (".jsonl", ".ndjson"), "csv": (".csv",)}


def export_frame(frame: pd.DataFrame, path: str, kind: str, overwrite: bool) -> None:
    """Write `frame` to a path or fsspec URL the user named, whole or not at all: a local file under a
    temporary name then renamed, an object in one upload. The one place a component writes outside its
    outputs (`export_table`), so the store's vetting does not have to allow it anywhere else.

    Raises:
        ValueError: the destination exists (without `overwrite`) or its protocol cannot be written.
    """
    import os
    import uuid

    import fsspec

    try:
        filesystem, target = fsspec.core.url_to_fs(path)
    except (ImportError, ValueError) as exc:  # an unknown protocol, or its library missing
        raise ValueError(
            f"cannot write to '{path[:120]}' ({str(exc)[:160]}); install tessera[cloud] for s3:// and gs://"
        ) from None
    if filesystem.exists(target) and not overwrite:
        raise ValueError(f"'{path[:120]}' exists; set overwrite to replace it")
    protocols = filesystem.protocol if isinstance(filesystem.protocol, tuple) else (filesystem.protocol,)
    local = "file" in protocols
    if local:
        filesystem.makedirs(os.path.dirname(target) or ".", exist_ok=True)
    written = f"{target}.{uuid.uuid4().hex[:8]}.tmp" if local else target
    with filesystem.open(written, "wb") as handle:
        if kind == "parquet":
            write_parquet(frame, handle)
        elif kind == "csv":
            handle.write(frame.to_csv(index=False).encode())
        else:
            handle.write(frame.to_json(orient="records", lines=True, date_format="iso").encode())
    if local:
        os.replace(written, target)
