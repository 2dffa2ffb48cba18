from typing import Annotated, Literal

from kfp.dsl import Dataset, Output

from component_store.decorator import component


@component(
    name="load_table", version="1.0.0", category="data", tags=["csv", "parquet", "jsonl", "fsspec"], owner="platform"
)
def load_table(
    table: Output[Dataset],
    path: str,
    file_format: Literal["auto", "csv", "parquet", "jsonl"] = "auto",
    max_rows: Annotated[int, (0, 1_000_000_000)] = 0,
):
    """Load a CSV, Parquet or JSON-lines file from a path or an fsspec URL (s3://, gs://…).

    Args:
        table: the loaded table, as Parquet.
        path: a local path or an fsspec URL of the file.
        file_format: the file's format; auto guesses it from the file name.
        max_rows: keep at most this many rows; 0 keeps all.
    """
    from component_store.runtime.tables import limit_rows, row_limit, write_table

    suffixes = {
        "parquet": (".parquet", ".pq"),
        "jsonl": (".jsonl", ".ndjson", ".json"),
        "csv": (".csv", ".csv.gz", ".tsv"),
    }
    kind: str = file_format
    if kind == "auto":
        kind = next((k for k, ends in suffixes.items() if path.lower().endswith(ends)), "")
        if not kind:
            raise ValueError(
                f"load_table: cannot tell the format of '{path}'; set file_format to csv, parquet or jsonl"
            )
    import pandas as pd

    limit = row_limit(max_rows) or None
    try:
        if kind == "csv":
            frame = pd.read_csv(path, nrows=limit, sep="\t" if path.lower().endswith(".tsv") else ",")
        elif kind == "jsonl":
            frame = pd.read_json(path, lines=True, nrows=limit)
        else:
            frame = pd.read_parquet(path)
    except FileNotFoundError as exc:
        raise ValueError(f"load_table: no file at '{path}'; check the path parameter") from exc
    write_table(limit_rows(frame, max_rows), table)
