"""The endpoint registry: which endpoint serves which model versions, and what it served before.

SQLite (`.tessera/endpoints.db`, WAL) shared by the CLI, the studio and the endpoint's own server
process. The CLI writes what an endpoint *should* serve (`request`, with a `revision` bumped on
each change); the server writes what it *does* serve (`served`, `served_revision`) once a swap
is complete, so "which version answers" is read from the one process that knows.

    endpoint: name, target, request, revision, served routes, served_revision, status,
              pid, port, url, token hash, last error, log path, times
    history:  one row per change (deployed, updated, swapped, promoted, rolled back, stopped,
              deleted), with who and what was served; kept after the endpoint is deleted
"""

from __future__ import annotations

import getpass
import json
import sqlite3
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from serving.endpoints import EndpointError, EndpointRequest, Route
from tessera.sqlite_db import connect
from tessera.suggest import did_you_mean

_SCHEMA = """
CREATE TABLE IF NOT EXISTS endpoints (
    name TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    request TEXT NOT NULL,
    revision INTEGER NOT NULL DEFAULT 1,
    served TEXT NOT NULL DEFAULT '[]',
    served_revision INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL,
    pid INTEGER,
    port INTEGER,
    url TEXT NOT NULL DEFAULT '',
    token_hash TEXT NOT NULL DEFAULT '',
    last_error TEXT NOT NULL DEFAULT '',
    log_path TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    endpoint TEXT NOT NULL,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    event TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""
SERVING_STATES = ("starting", "serving")


@dataclass(frozen=True)
class EndpointRecord:
    name: str
    target: str
    request: EndpointRequest
    status: str
    revision: int = 1
    served: tuple[Route, ...] = ()
    served_revision: int = 0
    pid: int | None = None
    port: int | None = None
    url: str = ""
    token_hash: str = ""
    last_error: str = ""
    log_path: str = ""
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class HistoryEntry:
    endpoint: str
    at: float
    actor: str
    event: str
    detail: dict[str, Any]


class EndpointRegistry:
    """Endpoint records of one workspace (`EndpointRegistry(workspace.state_dir / "endpoints.db")`)."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return connect(self.path)

    def create(self, record: EndpointRecord, actor: str | None = None) -> EndpointRecord:
        with self._connect() as db:
            try:
                db.execute(
                    "INSERT INTO endpoints (name, target, request, revision, status, pid, port, url, token_hash,"
                    " log_path, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        record.name, record.target, record.request.model_dump_json(), record.revision,
                        record.status, record.pid, record.port, record.url, record.token_hash, record.log_path,
                        record.created_at, record.updated_at,
                    ),
                )  # fmt: skip
            except sqlite3.IntegrityError:
                raise EndpointError(
                    f"endpoint '{record.name}' already exists: use `tessera endpoint update {record.name}` "
                    "to change what it serves, or pick another name"
                ) from None
            self._log(db, record.name, "deployed", {"request": record.request.model_dump()}, actor)
        return record

    def get(self, name: str) -> EndpointRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM endpoints WHERE name = ?", (name,)).fetchone()
            if row is None:
                names = [r[0] for r in db.execute("SELECT name FROM endpoints")]
                hint = did_you_mean(name, names) or (f"; endpoints: {', '.join(sorted(names))}" if names else "")
                raise EndpointError(f"no endpoint named '{name}'{hint}")
        return _record(row)

    def all(self) -> list[EndpointRecord]:
        with self._connect() as db:
            return [_record(row) for row in db.execute("SELECT * FROM endpoints ORDER BY name")]

    def exists(self, name: str) -> bool:
        with self._connect() as db:
            return db.execute("SELECT 1 FROM endpoints WHERE name = ?", (name,)).fetchone() is not None

    def set_request(self, name: str, request: EndpointRequest, event: str, actor: str | None = None) -> int:
        """Record what `name` should serve next; returns the new revision the server must reach."""
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute("SELECT revision FROM endpoints WHERE name = ?", (name,)).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise EndpointError(f"no endpoint named '{name}'")
            revision = row[0] + 1
            db.execute(
                "UPDATE endpoints SET request = ?, revision = ?, last_error = '', updated_at = ? WHERE name = ?",
                (request.model_dump_json(), revision, time.time(), name),
            )
            self._log(db, name, event, {"request": request.model_dump(), "revision": revision}, actor)
            db.execute("COMMIT")
        return revision

    def record_served(self, name: str, routes: list[Route], revision: int, status: str = "serving") -> None:
        """The server's word: it now answers with `routes`, having applied `revision`."""
        detail = {"routes": [r.model_dump() for r in routes], "revision": revision}
        with self._connect() as db:
            db.execute(
                "UPDATE endpoints SET served = ?, served_revision = ?, status = ?, last_error = '', updated_at = ?"
                " WHERE name = ?",
                (json.dumps(detail["routes"]), revision, status, time.time(), name),
            )
            self._log(db, name, "serving", detail, "server")

    def record_error(self, name: str, revision: int, message: str) -> None:
        with self._connect() as db:
            db.execute(
                "UPDATE endpoints SET last_error = ?, served_revision = ?, updated_at = ? WHERE name = ?",
                (message, revision, time.time(), name),
            )
            self._log(db, name, "error", {"revision": revision, "message": message}, "server")

    def set_fields(self, name: str, **fields: Any) -> None:
        """Update process facts (status, pid, port, url, token_hash, log_path) of one endpoint."""
        allowed = {"status", "pid", "port", "url", "token_hash", "log_path", "last_error"}
        unknown = set(fields) - allowed
        if unknown:
            raise ValueError(f"not an endpoint field: {sorted(unknown)}")
        assignments = ", ".join(f"{k} = ?" for k in fields)
        with self._connect() as db:
            db.execute(
                f"UPDATE endpoints SET {assignments}, updated_at = ? WHERE name = ?",
                (*fields.values(), time.time(), name),
            )

    def log(self, name: str, event: str, detail: dict[str, Any], actor: str | None = None) -> None:
        with self._connect() as db:
            self._log(db, name, event, detail, actor)

    def delete(self, name: str, actor: str | None = None) -> None:
        with self._connect() as db:
            if db.execute("DELETE FROM endpoints WHERE name = ?", (name,)).rowcount:
                self._log(db, name, "deleted", {}, actor)

    def history(self, name: str) -> list[HistoryEntry]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM history WHERE endpoint = ? ORDER BY id", (name,)).fetchall()
        return [HistoryEntry(r["endpoint"], r["at"], r["actor"], r["event"], json.loads(r["detail"])) for r in rows]

    def previous_primary(self, name: str) -> str | None:
        """The model version served at 100 % before the current one (for a rollback without canary)."""
        current = self.get(name).served
        current_primary = current[0].ref if current else None
        served_alone = [
            entry.detail["routes"][0]
            for entry in self.history(name)
            if entry.event == "serving" and len(entry.detail["routes"]) == 1
        ]
        labels = [f"{r['model_name']}/{r['version']}" for r in served_alone]
        current_label = f"{current[0].model_name}/{current[0].version}" if current else current_primary
        while labels and labels[-1] == current_label:
            labels.pop()
        return labels[-1] if labels else None

    @staticmethod
    def _log(db: sqlite3.Connection, name: str, event: str, detail: dict[str, Any], actor: str | None) -> None:
        db.execute(
            "INSERT INTO history (endpoint, at, actor, event, detail) VALUES (?,?,?,?,?)",
            (name, time.time(), actor or _user(), event, json.dumps(detail)),
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _record(row: sqlite3.Row) -> EndpointRecord:
    return EndpointRecord(
        name=row["name"],
        target=row["target"],
        request=EndpointRequest.model_validate_json(row["request"]),
        status=row["status"],
        revision=row["revision"],
        served=tuple(Route(**r) for r in json.loads(row["served"])),
        served_revision=row["served_revision"],
        pid=row["pid"],
        port=row["port"],
        url=row["url"],
        token_hash=row["token_hash"],
        last_error=row["last_error"],
        log_path=row["log_path"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
