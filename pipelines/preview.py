"""Look into a node's Dataset output without loading the whole file.

Reads the Parquet footer for the schema, the row count and per-column statistics
(nulls, min, max over all row groups), and only the first batch of rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tessera.errors import TesseraError


class PreviewError(TesseraError):
    """An output that cannot be previewed as a table."""


@dataclass(frozen=True)
class ColumnSummary:
    name: str
    type: str
    nulls: int | None
    minimum: Any = None
    maximum: Any = None


@dataclass(frozen=True)
class TablePreview:
    rows: int
    columns: tuple[ColumnSummary, ...]
    head: list[dict[str, Any]] = field(default_factory=list)

    def head_frame(self) -> Any:
        import pandas as pd

        return pd.DataFrame(self.head, columns=[c.name for c in self.columns])


def preview_table(path: str | Path, rows: int = 10) -> TablePreview:
    """Schema, row count, column statistics and the first `rows` rows of a Parquet Dataset.

    The Dataset is one Parquet file, or a folder of part files as Spark writes them.

    Example:
        >>> preview_table(".tessera/artifacts/3f…/train", rows=5).rows  # doctest: +SKIP
        4000
    """
    import pyarrow.parquet as pq

    files = _parquet_files(Path(path))
    try:
        parquets = [pq.ParquetFile(file) for file in files]
    except (OSError, ValueError) as exc:
        raise PreviewError(f"{path} is not a Parquet table, so it cannot be previewed: {exc}") from None
    schema = parquets[0].schema_arrow
    columns = []
    for index, arrow_field in enumerate(schema):
        nulls: int | None = 0
        low = high = None
        for parquet in parquets:
            for group in range(parquet.metadata.num_row_groups):
                stats = parquet.metadata.row_group(group).column(index).statistics
                if stats is None:
                    nulls = None
                    continue
                if nulls is not None and stats.has_null_count:
                    nulls += stats.null_count
                if stats.has_min_max:
                    low = stats.min if low is None else min(low, stats.min)
                    high = stats.max if high is None else max(high, stats.max)
        columns.append(ColumnSummary(arrow_field.name, str(arrow_field.type), nulls, low, high))
    head: list[dict[str, Any]] = []
    for parquet in parquets:
        if len(head) >= rows:
            break
        if parquet.metadata.num_rows:
            batch = next(parquet.iter_batches(batch_size=rows - len(head)))
            head += batch.to_pylist()
    return TablePreview(rows=sum(p.metadata.num_rows for p in parquets), columns=tuple(columns), head=head[:rows])


def read_dataset(path: str | Path) -> Any:
    """A whole Parquet Dataset (one file, or a folder of part files) as a pandas DataFrame.

    Example:
        >>> read_dataset(".tessera/artifacts/3f…/train").shape  # doctest: +SKIP
        (4000, 15)
    """
    import pyarrow.parquet as pq

    files = _parquet_files(Path(path))
    try:
        import pyarrow as pa

        return pa.concat_tables([pq.read_table(file) for file in files]).to_pandas()
    except (OSError, ValueError) as exc:
        raise PreviewError(f"{path} is not a Parquet table, so it cannot be read as a DataFrame: {exc}") from None


def _parquet_files(path: Path) -> list[Path]:
    """The file itself, or a folder's data files (Spark's `part-…` files; `_SUCCESS` and `.crc` skipped)."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
    if not files:
        raise PreviewError(f"{path} is an empty folder, so it cannot be previewed")
    return files
