"""SQLite the way Tessera's record stores use it (runs.db, endpoints.db): WAL, a busy timeout, rows by name.

WAL lets readers (the CLI, the studio, an endpoint's server) read while one process writes;
the busy timeout makes concurrent writers wait their turn instead of failing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def connect(path: Path) -> Iterator[sqlite3.Connection]:
    """An autocommit connection (`BEGIN IMMEDIATE` for explicit transactions), closed on exit."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        db.row_factory = sqlite3.Row
        yield db
    finally:
        db.close()
