from typing import Literal

from kfp.dsl import Artifact, Dataset, Input, Output

from component_store.decorator import component


@component(
    name="export_table", version="1.0.0", category="data", tags=["csv", "parquet", "jsonl", "fsspec", "s3", "export"],
    owner="platform",
)  # fmt: skip
def export_table(
    table: Input[Dataset],
    exported: Output[Artifact],
    path: str,
    file_format: Literal["auto", "csv", "parquet", "jsonl"] = "auto",
    overwrite: bool = False,
):
    """Write a table to a path or an fsspec URL (s3://, gs://…) as Parquet, CSV or JSON lines, for the
    services and analysts that read it there (batch scores into the lake, a report for a team).

    The file appears whole or not at all: locally it is written under a temporary name and renamed; in
    object storage one upload makes it appear. An existing file is kept unless overwrite is set.
    Credentials come from the environment (AWS_*, GOOGLE_APPLICATION_CREDENTIALS) and are never printed.

    Args:
        table: the rows to write.
        exported: where the table went (uri, rows, format).
        path: a local path or an fsspec URL of the file to write, e.g. s3://risk-scores/daily/players.parquet.
        file_format: the file's format; auto takes it from the file name.
        overwrite: replace a file that is already there.
    """
    from component_store.runtime.tables import EXPORT_SUFFIXES, export_frame, read_table

    kind: str = file_format
    if kind == "auto":
        kind = next((k for k, ends in EXPORT_SUFFIXES.items() if path.lower().endswith(ends)), "")
        if not kind:
            raise ValueError(
                f"export_table: cannot tell the format of '{path[:120]}' from its name; end it in .parquet, .csv "
                "or .jsonl, or set file_format"
            )
    frame = read_table(table)
    try:
        export_frame(frame, path, kind, overwrite)
    except ValueError as exc:
        raise ValueError(f"export_table: {exc}") from None
    exported.metadata.update({"uri": path, "rows": int(len(frame)), "format": kind})
    print(f"export_table: wrote {len(frame)} rows to {path[:200]} as {kind}")
