"""Refuse any SQL that is not one read-only SELECT."""

from __future__ import annotations

import sqlparse


def require_select(query: str, component: str = "sql_query") -> None:
    """Raise ValueError unless `query` is exactly one SELECT (or WITH … SELECT) statement.

    Example:
        >>> require_select("DELETE FROM players")
        Traceback (most recent call last):
        ...
        ValueError: sql_query runs only SELECT statements; this one is a DELETE
    """
    statements = [s for s in sqlparse.parse(query) if s.token_first(skip_cm=True) is not None]
    if len(statements) != 1:
        raise ValueError(f"{component} runs exactly one statement; got {len(statements)}")
    kind = statements[0].get_type()
    if kind != "SELECT":
        shown = kind if kind != "UNKNOWN" else statements[0].token_first(skip_cm=True).value.upper()
        raise ValueError(f"{component} runs only SELECT statements; this one is a {shown}")
    keywords = {t.normalized for t in statements[0].flatten() if t.ttype in sqlparse.tokens.Keyword.DML}
    if keywords - {"SELECT"}:
        raise ValueError(
            f"{component} runs only SELECT statements; this one also has {', '.join(sorted(keywords - {'SELECT'}))}"
        )
