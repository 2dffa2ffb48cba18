from typing import Annotated

from kfp.dsl import Dataset, Output

from component_store.decorator import component


@component(name="sql_query", version="1.1.0", category="data", tags=["sql", "database", "sqlalchemy"], owner="platform")
def sql_query(
    table: Output[Dataset],
    url: str,
    query: str,
    max_rows: Annotated[int, (1, 50_000_000)] = 1_000_000,
    timeout_seconds: Annotated[int, (1, 86400)] = 300,
):
    """Run one read-only SELECT against a SQLite, PostgreSQL or MySQL database and keep the result.

    The query is parsed first: anything but a single SELECT (or WITH … SELECT, or a UNION of
    SELECTs) is refused before it reaches the database, and so is a SELECT that writes (SELECT …
    INTO, a DELETE inside a WITH, FOR UPDATE). It then runs on a connection the database keeps
    read-only (SQLite opened read-only; a read-only transaction on PostgreSQL and MySQL) with a
    statement timeout.

    Args:
        table: the query's result, as Parquet.
        url: SQLAlchemy database URL, e.g. postgresql://user@host/db or sqlite:///file.db.
        query: a single SELECT statement.
        max_rows: keep at most this many rows.
        timeout_seconds: stop a query that runs longer than this.
    """
    from component_store.runtime.sql_guard import read_only_rows
    from component_store.runtime.tables import row_limit, write_table

    write_table(read_only_rows(url, query, row_limit(max_rows), timeout_seconds), table)
