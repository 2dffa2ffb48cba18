from typing import Literal

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(
    name="scale_numeric",
    version="1.1.0",
    category="transform",
    tags=["scaling", "standardize", "features"],
    owner="platform",
)
def scale_numeric(
    table: Input[Dataset],
    scaled: Output[Dataset],
    method: Literal["standard", "minmax", "robust"] = "standard",
    columns: list = [],
    exclude: list = [],
):
    """Rescale numeric columns: standard (mean 0, std 1), min-max (0 to 1) or robust (median and IQR).

    The fitted centre and scale of every column are recorded in the output's metadata.

    Args:
        table: the input table.
        scaled: the table with the numeric columns rescaled.
        method: standard, minmax or robust scaling.
        columns: the columns to scale; empty scales every numeric column.
        exclude: columns never to scale, such as the label or an id.
    """
    from component_store.runtime.tables import read_table, require_columns, write_table
    from serving.inference_pipeline import CHAIN_KEY, apply_step, chain_of

    frame = read_table(table)
    chain = chain_of(table.metadata, frame)
    require_columns(frame, [str(c) for c in (*columns, *exclude)], "scale_numeric")
    targets = [c for c in (list(columns) or frame.select_dtypes("number").columns) if c not in set(exclude)]
    fitted = {}
    for column in targets:
        series = frame[column].astype("float64")
        if method == "standard":
            centre, scale = series.mean(), series.std(ddof=0)
        elif method == "minmax":
            centre, scale = series.min(), series.max() - series.min()
        else:
            centre, scale = series.median(), series.quantile(0.75) - series.quantile(0.25)
        scale = scale if scale and scale == scale else 1.0
        fitted[column] = {"centre": float(centre), "scale": float(scale)}
    step = {"kind": "scale", "component": "scale_numeric", "columns": fitted}
    frame = apply_step(frame, step)
    write_table(frame, scaled)
    scaled.metadata[CHAIN_KEY] = [*chain, step]
    scaled.metadata["scaling"] = {"method": method, "columns": fitted}
