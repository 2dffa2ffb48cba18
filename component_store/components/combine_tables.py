from typing import List

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(
    name="combine_tables", version="1.0.0", category="data", tags=["loop", "collect", "concat"], owner="platform"
)
def combine_tables(
    tables: Input[List[Dataset]],  # noqa: UP006 (kfp reads typing.List)
    combined: Output[Dataset],
    source_column: str = "",
):
    """Stack tables into one: the tables a loop made (one per region, one per game) for the step after it.

    Bind `tables` to the output of a step in a loop from a step outside it: it receives every
    iteration's table, in loop order (KFP's dsl.Collected). A column missing from some tables is empty
    (null) in their rows.

    Args:
        tables: the tables, in loop order.
        combined: every row of every table.
        source_column: a column to add with each row's table position (0 first); empty adds none.
    """
    import pandas as pd

    from component_store.runtime.tables import read_table, write_table

    frames = []
    for position, table in enumerate(tables):
        frame = read_table(table)
        if source_column:
            if source_column in frame.columns:
                raise ValueError(f"combine_tables: the tables already have a column '{source_column[:60]}'")
            frame[source_column] = position
        frames.append(frame)
    result = pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()
    write_table(result, combined)
    combined.metadata.update({"rows": int(len(result)), "tables": len(frames)})
    print(f"combine_tables: {len(frames)} tables, {len(result)} rows")
