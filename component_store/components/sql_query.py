from typing import Annotated

from kfp.dsl import Dataset, Output

from component_store.decorator import component


@component(name="sql_query", version="1.0.0", category="data", tags=["sql", "database", "sqlalchemy"], owner="platform")
def sql_query(
    table: Output[Dataset],
    url: str,
    query: str,
    max_rows: Annotated[int, (0, 1_000_000_000)] = 0,
):
    """Run one read-only SELECT against a database (any SQLAlchemy URL) and keep the result.

    Anything but a single SELECT (or WITH … SELECT) is refused before it reaches the
    database, and the query runs in a read-only transaction where the database has one.

    Args:
        table: the query's result, as Parquet.
        url: SQLAlchemy database URL, e.g. postgresql://user@host/db or sqlite:///file.db.
        query: a single SELECT statement.
        max_rows: keep at most this many rows; 0 keeps all.
    """
    import pandas as pd
    import sqlalchemy

    from component_store.runtime.sql_guard import require_select
    from component_store.runtime.tables import limit_rows, row_limit, write_table

    require_select(query)
    engine = sqlalchemy.create_engine(url)
    safe_url = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            if engine.dialect.name in {"postgresql", "mysql", "mariadb"}:
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
            result = connection.exec_driver_sql(query)
            limit = row_limit(max_rows)
            rows = result.fetchmany(limit) if limit else result.fetchall()
            frame = pd.DataFrame(rows, columns=list(result.keys()))
            connection.rollback()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise ValueError(
            f"sql_query on {safe_url} failed: {exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"
        ) from None
    finally:
        engine.dispose()
    write_table(limit_rows(frame, max_rows), table)
