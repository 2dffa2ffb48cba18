from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(name="select_columns", version="1.1.0", category="transform", tags=["columns"], owner="platform")
def select_columns(
    table: Input[Dataset],
    selected: Output[Dataset],
    columns: list,
    drop: bool = False,
):
    """Keep (or drop) the named columns of a table.

    Args:
        table: the input table.
        selected: the table with only the chosen columns.
        columns: the column names to keep, or to drop when drop is true.
        drop: drop the named columns instead of keeping them.
    """
    from component_store.runtime.tables import read_table, require_columns, write_table
    from serving.inference_pipeline import CHAIN_KEY, chain_of

    frame = read_table(table)
    require_columns(frame, [str(c) for c in columns], "select_columns")
    result = frame.drop(columns=columns) if drop else frame[list(columns)]
    write_table(result, selected)
    step = {"kind": "select", "component": "select_columns", "columns": [str(c) for c in result.columns]}
    selected.metadata[CHAIN_KEY] = [*chain_of(table.metadata, frame), step]
