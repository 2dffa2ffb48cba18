from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(name="filter_rows", version="1.1.0", category="transform", tags=["rows", "query"], owner="platform")
def filter_rows(
    table: Input[Dataset],
    filtered: Output[Dataset],
    expression: str,
):
    """Keep the rows matching a condition, e.g. `account_age_days > 30 and platform == 'pc'`.

    The condition uses column names, numbers, strings, comparisons, `and`/`or`/`not`,
    arithmetic and `in [...]`; function calls and attributes are refused, so no code runs.

    Args:
        table: the input table.
        filtered: the rows that match.
        expression: the condition, in pandas query syntax (backticks quote odd column names).
    """
    from component_store.runtime.safe_query import check_expression
    from component_store.runtime.tables import read_table, require_columns, write_table

    frame = read_table(table)
    columns = check_expression(expression)
    require_columns(frame, sorted(columns), "filter_rows")
    from serving.inference_pipeline import CHAIN_KEY, chain_of

    write_table(frame.query(expression, engine="python").reset_index(drop=True), filtered)
    filtered.metadata[CHAIN_KEY] = chain_of(table.metadata, frame)  # rows only: nothing to do at serving time
