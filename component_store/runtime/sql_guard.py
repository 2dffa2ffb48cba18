"""Refuse any SQL that is not one read-only SELECT, and run what passes on a read-only connection.

The query is parsed (sqlglot, in the database's dialect) rather than scanned for keywords, so a
write hidden in a SELECT is found: `SELECT … INTO`, DML inside a CTE, `FOR UPDATE` locks. What passes
still runs on a connection the database itself keeps read-only, with a statement timeout and a row cap.
"""

from __future__ import annotations

from typing import Any

# statements and clauses that write, lock or run commands, wherever they appear in the tree
_WRITES = ("Into", "Insert", "Delete", "Update", "Merge", "Create", "Drop", "Alter", "Command", "Lock", "Copy",
           "TruncateTable", "Grant", "Transaction", "Commit", "Rollback", "Set", "Pragma", "Use", "LoadData")  # fmt: skip
DIALECTS = {"sqlite": "sqlite", "postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql", "spark": "spark"}


def require_select(query: str, component: str = "sql_query", dialect: str | None = None) -> None:
    """Raise ValueError unless `query` is exactly one SELECT (or WITH … SELECT, or a UNION of SELECTs) that writes nothing.

    Example:
        >>> require_select("DELETE FROM players")
        Traceback (most recent call last):
        ...
        ValueError: sql_query runs only SELECT statements; this one is a DELETE
    """
    import sqlglot
    from sqlglot import exp

    try:
        statements = [s for s in sqlglot.parse(query, read=dialect) if s is not None]
    except sqlglot.errors.SqlglotError as exc:
        reason = str(exc).splitlines()[0][:120]
        raise ValueError(f"{component}: the query does not parse as SQL ({reason})") from None
    if len(statements) != 1:
        raise ValueError(f"{component} runs exactly one statement; got {len(statements)}")
    root = statements[0]
    kinds = [type(node).__name__ for node in root.walk()]
    if not isinstance(root, exp.Select | exp.SetOperation | exp.Subquery):
        kind = _kind(root)
        raise ValueError(
            f"{component} runs only SELECT statements; this one is {'an' if kind[0] in 'AEIOU' else 'a'} {kind}"
        )
    if "Into" in kinds:
        raise ValueError(f"{component} runs only SELECT statements; SELECT … INTO writes a table")
    writes = sorted({_kind_name(k) for k in kinds if k in _WRITES})
    if writes:
        raise ValueError(f"{component} runs only SELECT statements; this one also has {', '.join(writes)}")


def _kind(statement: Any) -> str:
    name = type(statement).__name__
    if name == "Command":  # a statement sqlglot keeps as text, e.g. VACUUM or PRAGMA
        return str(statement.this).upper()
    return _kind_name(name)


def _kind_name(class_name: str) -> str:
    return {"Lock": "FOR UPDATE", "TruncateTable": "TRUNCATE", "LoadData": "LOAD DATA"}.get(
        class_name, class_name.upper()
    )


def read_only_rows(url: str, query: str, max_rows: int, timeout_seconds: int) -> Any:
    """Run a checked SELECT on a read-only connection; at most `max_rows` rows, as a DataFrame.

    SQLite opens the file with `mode=ro`; PostgreSQL and MySQL run in a read-only transaction with a
    statement timeout. Other databases are refused: there is no way to know that they cannot be written.

    Raises:
        ValueError: a refused query or database, or the database's error (the URL's password hidden).
    """
    import pandas as pd
    import sqlalchemy

    parsed = sqlalchemy.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend not in DIALECTS or backend == "spark":
        raise ValueError(
            f"sql_query reads SQLite, PostgreSQL and MySQL/MariaDB databases read-only; '{backend}' is not one of them"
        )
    require_select(query, dialect=DIALECTS[backend])
    engine = _read_only_engine(parsed, backend, timeout_seconds)
    safe_url = parsed.render_as_string(hide_password=True)
    try:
        with engine.connect() as connection:
            if backend in {"mysql", "mariadb"}:
                connection.exec_driver_sql(f"SET SESSION max_execution_time = {int(timeout_seconds) * 1000}")
                connection.exec_driver_sql("START TRANSACTION READ ONLY")
            result = connection.exec_driver_sql(query)
            frame = pd.DataFrame(result.fetchmany(max_rows), columns=list(result.keys()))
            connection.rollback()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:300]
        raise ValueError(f"sql_query on {safe_url} failed: {exc.__class__.__name__}: {reason}") from None
    finally:
        engine.dispose()
    return frame


def _read_only_engine(url: Any, backend: str, timeout_seconds: int) -> Any:
    import sqlite3

    import sqlalchemy

    if backend == "sqlite":
        path = url.database or ""
        if not path or path == ":memory:":
            raise ValueError("sql_query needs a SQLite file to read, e.g. sqlite:///players.db")

        def connect() -> sqlite3.Connection:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=timeout_seconds)
            connection.execute("PRAGMA query_only = ON")
            return connection

        return sqlalchemy.create_engine("sqlite://", creator=connect, poolclass=sqlalchemy.pool.NullPool)
    if backend == "postgresql":
        options = f"-c default_transaction_read_only=on -c statement_timeout={int(timeout_seconds) * 1000}"
        return sqlalchemy.create_engine(url, connect_args={"options": options}, poolclass=sqlalchemy.pool.NullPool)
    return sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
