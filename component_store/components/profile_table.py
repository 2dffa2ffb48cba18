from kfp.dsl import Dataset, Input, Markdown, Output

from component_store.decorator import component


@component(
    name="profile_table", version="1.0.0", category="validate", tags=["profile", "eda", "quality"], owner="platform"
)
def profile_table(
    table: Input[Dataset],
    profile: Output[Markdown],
):
    """Profile a table: rows, missing values, distinct values and numeric summaries per column.

    Args:
        table: the table to profile.
        profile: Markdown report with one row per column.
    """
    from component_store.runtime.tables import read_table

    frame = read_table(table)
    numeric = frame.select_dtypes("number")
    rows = []
    for column in frame.columns:
        series = frame[column]
        row = {
            "column": column,
            "type": str(series.dtype),
            "missing": int(series.isna().sum()),
            "missing %": round(100 * float(series.isna().mean()), 2) if len(frame) else 0.0,
            "distinct": int(series.nunique()),
        }
        if column in numeric.columns:
            described = series.describe()
            row.update({k: round(float(described[k]), 4) for k in ("mean", "std", "min", "50%", "max")})
        rows.append(row)
    import pandas as pd

    summary = pd.DataFrame(rows)
    text = f"# Profile\n\nRows: {len(frame)}, columns: {len(frame.columns)}.\n\n{summary.to_markdown(index=False)}\n"
    with open(profile.path, "w") as handle:
        handle.write(text)
    profile.metadata["rows"] = int(len(frame))
    profile.metadata["missing_cells"] = int(frame.isna().sum().sum())
