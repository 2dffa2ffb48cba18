from typing import Literal

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(name="fill_missing", version="1.1.0", category="transform", tags=["missing", "impute"], owner="platform")
def fill_missing(
    table: Input[Dataset],
    filled: Output[Dataset],
    strategy: Literal["median", "mean", "most_frequent", "constant", "drop_rows"] = "median",
    fill_value: str = "0",
    columns: list = [],
):
    """Fill (or drop) missing values: numeric columns by median, mean or a constant, others by the most frequent value.

    Args:
        table: the input table.
        filled: the table without missing values in the chosen columns.
        strategy: how to fill numeric columns; non-numeric columns always take their most frequent value (or fill_value with constant); drop_rows removes incomplete rows.
        fill_value: the value used by the constant strategy (converted to a number for numeric columns).
        columns: the columns to treat; empty treats every column with missing values.
    """
    from component_store.runtime.tables import read_table, require_columns, write_table
    from serving.inference_pipeline import CHAIN_KEY, apply_step, chain_of

    frame = read_table(table)
    chain = chain_of(table.metadata, frame)
    require_columns(frame, [str(c) for c in columns], "fill_missing")
    targets = list(columns) or [c for c in frame.columns if frame[c].isna().any()]
    before = int(frame[targets].isna().sum().sum()) if targets else 0
    if strategy == "drop_rows":
        frame = frame.dropna(subset=targets).reset_index(drop=True)
        step: dict = {"kind": "drop_rows", "component": "fill_missing", "columns": targets}
    else:
        values = {}
        for column in targets:
            series = frame[column]
            numeric = series.dtype.kind in "iuf"
            if strategy == "constant":
                value = float(fill_value) if numeric else fill_value
            elif numeric and strategy in ("median", "mean"):
                value = getattr(series, strategy)()
            else:
                modes = series.mode()
                value = modes.iloc[0] if len(modes) else (0 if numeric else fill_value)
            values[column] = value.item() if hasattr(value, "item") else value
        step = {"kind": "fill", "component": "fill_missing", "values": values}
        frame = apply_step(frame, step)
    write_table(frame, filled)
    filled.metadata[CHAIN_KEY] = [*chain, step]
    filled.metadata["missing_filled"] = before
