"""Run records: what ran, with which parameters, and how each node ended.

Stored in SQLite (`.tessera/runs.db`) in WAL mode with a busy timeout, so several runs
(and readers such as the CLI and the studio) can use it at once without corrupting it.

    run:  id, workflow, its YAML and digest, params, backend, options, status, times,
          the driver process (pid, host) and a cancel flag
    node: status, fingerprint, times, exit code, outputs (name -> uri, type, metadata),
          cache hit or not, log file, message

Run states: queued, running, succeeded, failed, cancelled.
Node states: pending, running, cached, succeeded, failed, skipped (an upstream node failed or was
cancelled), not_run (its condition was false, or an upstream node did not run for that reason: a
run with such nodes can still succeed), cancelled.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from tessera.errors import TesseraError
from tessera.sqlite_db import connect
from tessera.suggest import did_you_mean

RUN_STATES = ("queued", "running", "succeeded", "failed", "cancelled")
NODE_STATES = ("pending", "running", "cached", "succeeded", "failed", "skipped", "not_run", "cancelled")
DONE_NODE_STATES = {"cached", "succeeded"}
FINAL_RUN_STATES = {"succeeded", "failed", "cancelled"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    workflow_digest TEXT NOT NULL,
    workflow_yaml TEXT NOT NULL,
    params TEXT NOT NULL,
    backend TEXT NOT NULL,
    options TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    ended_at REAL,
    driver_pid INTEGER,
    driver_host TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS nodes (
    run_id TEXT NOT NULL REFERENCES runs(id),
    node_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    status TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    started_at REAL,
    ended_at REAL,
    exit_code INTEGER,
    outputs TEXT NOT NULL DEFAULT '{}',
    log_path TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    pid INTEGER,
    PRIMARY KEY (run_id, node_id)
);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs(created_at);
"""
SCHEMA_VERSION = 1  # bump with a step in RunStore._migrate when the tables change


def new_run_id() -> str:
    """A run id that sorts by time: `20261123-103000-ab12`."""
    return f"{datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:4]}"


class RunNotFound(TesseraError):
    """A run id that the workspace has no record of."""


@dataclass(frozen=True)
class NodeRecord:
    node_id: str
    status: str
    fingerprint: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    log_path: str = ""
    message: str = ""
    attempts: int = 0
    pid: int | None = None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


@dataclass(frozen=True)
class RunRecord:
    id: str
    workflow: str
    workflow_digest: str
    workflow_yaml: str
    params: dict[str, Any]
    backend: str
    options: dict[str, Any]
    status: str
    created_at: float
    started_at: float | None
    ended_at: float | None
    driver_pid: int | None
    driver_host: str | None
    cancel_requested: bool
    message: str
    nodes: tuple[NodeRecord, ...] = ()

    def node(self, node_id: str) -> NodeRecord:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise RunNotFound(
            f"Run {self.id} has no node '{node_id}'{did_you_mean(node_id, [n.node_id for n in self.nodes])}; "
            f"its nodes: {', '.join(n.node_id for n in self.nodes)}"
        )

    @property
    def seconds(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.ended_at or time.time()) - self.started_at


def node_metrics(node: NodeRecord) -> dict[str, float]:
    """Every number a node's Metrics outputs carry (KFP keeps them in the artifact's metadata)."""
    found: dict[str, float] = {}
    for output in node.outputs.values():
        if output.get("type") != "system.Metrics":
            continue
        for key, value in (output.get("metadata") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                found[key] = float(value)
    return found


def run_metrics(record: RunRecord) -> dict[str, float]:
    """`node.metric` -> value for every number of every node's Metrics outputs (to compare runs)."""
    return {f"{node.node_id}.{key}": value for node in record.nodes for key, value in node_metrics(node).items()}


class RunStore:
    """The run records of one workspace.

    Example:
        >>> runs = RunStore(workspace.state_dir / "runs.db")  # doctest: +SKIP
        >>> runs.get("20261123-040102-ab12").status  # doctest: +SKIP
        'succeeded'
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)
            self._migrate(db)

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise TesseraError(
                f"runs.db was written by a newer Tessera (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Tessera"
            )
        if version < SCHEMA_VERSION:
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _connect(self) -> AbstractContextManager[sqlite3.Connection]:
        return connect(self.path)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def create(
        self,
        run_id: str,
        workflow: str,
        workflow_digest: str,
        workflow_yaml: str,
        params: dict[str, Any],
        backend: str,
        options: dict[str, Any],
        node_ids: list[str],
    ) -> RunRecord:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO runs (id, workflow, workflow_digest, workflow_yaml, params, backend, options, status, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                (
                    run_id,
                    workflow,
                    workflow_digest,
                    workflow_yaml,
                    json.dumps(params),
                    backend,
                    json.dumps(options),
                    time.time(),
                ),
            )
            db.executemany(
                "INSERT INTO nodes (run_id, node_id, position, status) VALUES (?, ?, ?, 'pending')",
                [(run_id, node_id, i) for i, node_id in enumerate(node_ids)],
            )
        return self.get(run_id)

    def replace_nodes(self, run_id: str, node_ids: list[str]) -> None:
        """Make the run's nodes `node_ids`, in this order: rows kept where the id stays, new ones pending,
        the others removed (a loop over an upstream output unrolls once that output is known)."""
        with self._transaction() as db:
            have = {r["node_id"] for r in db.execute("SELECT node_id FROM nodes WHERE run_id = ?", (run_id,))}
            gone = have - set(node_ids)
            db.executemany("DELETE FROM nodes WHERE run_id = ? AND node_id = ?", [(run_id, n) for n in gone])
            db.executemany(
                "INSERT INTO nodes (run_id, node_id, position, status) VALUES (?, ?, ?, 'pending')",
                [(run_id, node_id, i) for i, node_id in enumerate(node_ids) if node_id not in have],
            )
            db.executemany(
                "UPDATE nodes SET position = ? WHERE run_id = ? AND node_id = ?",
                [(i, run_id, node_id) for i, node_id in enumerate(node_ids) if node_id in have],
            )

    def get(self, run_id: str) -> RunRecord:
        """The run `run_id` (a unique prefix is enough); a run whose driver died is marked failed first."""
        run = self._read(self._resolve(run_id))
        if run.status == "running" and _driver_is_dead(run):
            self.finish_orphan(run.id)
            run = self._read(run.id)
        return run

    def _resolve(self, run_id: str) -> str:
        with self._connect() as db:
            rows = db.execute("SELECT id FROM runs WHERE id LIKE ? ORDER BY id", (f"{run_id}%",)).fetchall()
            if len(rows) == 1:
                return str(rows[0]["id"])
            if len(rows) > 1 and any(r["id"] == run_id for r in rows):
                return run_id
            if len(rows) > 1:
                raise RunNotFound(f"'{run_id}' matches {len(rows)} runs; give more of the id")
            recent = [r["id"] for r in db.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 50")]
        raise RunNotFound(
            f"No run '{run_id}' in this workspace{did_you_mean(run_id, recent)}; see them with: tessera runs list"
        )

    def _read(self, run_id: str) -> RunRecord:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
            nodes = db.execute("SELECT * FROM nodes WHERE run_id = ? ORDER BY position", (run_id,)).fetchall()
        return _run_from_row(row, nodes)

    def recent(self, limit: int = 20, workflow: str | None = None, status: str | None = None) -> list[RunRecord]:
        """The most recent runs first."""
        query = "SELECT id FROM runs WHERE 1=1"
        args: list[Any] = []
        if workflow:
            query += " AND workflow = ?"
            args.append(workflow)
        if status:
            query += " AND status = ?"
            args.append(status)
        query += " ORDER BY created_at DESC LIMIT ?"
        args.append(limit)
        with self._connect() as db:
            ids = [r["id"] for r in db.execute(query, args)]
        return [self.get(run_id) for run_id in ids]

    def fingerprints_since(self, since: float) -> set[str]:
        """Fingerprints of every node of runs created after `since` (their outputs are still wanted)."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT DISTINCT n.fingerprint FROM nodes n JOIN runs r ON r.id = n.run_id WHERE r.created_at >= ?"
                " OR r.status IN ('queued', 'running')",
                (since,),
            ).fetchall()
        return {r["fingerprint"] for r in rows if r["fingerprint"]}

    def claim(self, run_id: str) -> bool:
        """Start driving a queued run in this process; False when it is not queued (cancelled before its
        driver started, or another driver has it), so two drivers never run one run."""
        with self._transaction() as db:
            claimed = db.execute(
                "UPDATE runs SET status='running', started_at=COALESCE(started_at, ?), ended_at=NULL, driver_pid=?,"
                " driver_host=?, cancel_requested=0, message='' WHERE id=? AND status='queued'",
                (time.time(), os.getpid(), socket.gethostname(), run_id),
            )
            return bool(claimed.rowcount)

    def mark_remote_running(self, run_id: str) -> None:
        """A run executed elsewhere (Kubeflow) is running: no local driver process to watch."""
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status='running', started_at=COALESCE(started_at, ?) WHERE id=? AND status='queued'",
                (time.time(), run_id),
            )

    def finish(self, run_id: str, status: str, message: str = "") -> None:
        assert status in FINAL_RUN_STATES
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status=?, ended_at=?, message=? WHERE id=?", (status, time.time(), message, run_id)
            )

    def update_node(self, run_id: str, node_id: str, **fields: Any) -> None:
        """Set fields of one node record (`status`, `fingerprint`, `outputs`, …)."""
        if "status" in fields:
            assert fields["status"] in NODE_STATES, fields["status"]
        if "outputs" in fields:
            fields["outputs"] = json.dumps(fields["outputs"])
        assignments = ", ".join(f"{key}=?" for key in fields)
        with self._transaction() as db:
            db.execute(
                f"UPDATE nodes SET {assignments} WHERE run_id=? AND node_id=?", (*fields.values(), run_id, node_id)
            )

    def reset_for_resume(self, run_id: str) -> list[str]:
        """Set every node that did not finish back to pending; returns their ids."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT node_id FROM nodes WHERE run_id=? AND status NOT IN ('cached', 'succeeded') ORDER BY position",
                (run_id,),
            ).fetchall()
            db.execute(
                "UPDATE nodes SET status='pending', exit_code=NULL, message='', started_at=NULL, ended_at=NULL"
                " WHERE run_id=? AND status NOT IN ('cached', 'succeeded')",
                (run_id,),
            )
            db.execute(  # a cancelled run resumed must not be cancelled again by its old request
                "UPDATE runs SET status='queued', ended_at=NULL, message='', cancel_requested=0 WHERE id=?", (run_id,)
            )
        return [r["node_id"] for r in rows]

    def request_cancel(self, run_id: str) -> None:
        with self._transaction() as db:
            db.execute("UPDATE runs SET cancel_requested=1 WHERE id=?", (run_id,))

    def cancel_requested(self, run_id: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT cancel_requested FROM runs WHERE id=?", (run_id,)).fetchone()
        return bool(row and row["cancel_requested"])

    def finish_orphan(self, run_id: str, status: str = "failed", message: str = "") -> None:
        """Close a run whose driver is gone: running nodes fail (or are cancelled), pending ones are skipped."""
        node_status = "cancelled" if status == "cancelled" else "failed"
        reason = message or "the process running this workflow stopped (killed or crashed)"
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "UPDATE nodes SET status=?, ended_at=?, message=? WHERE run_id=? AND status='running'",
                (node_status, now, reason, run_id),
            )
            db.execute(
                "UPDATE nodes SET status=? WHERE run_id=? AND status='pending'",
                ("cancelled" if status == "cancelled" else "skipped", run_id),
            )
            db.execute("UPDATE runs SET status=?, ended_at=?, message=? WHERE id=?", (status, now, reason, run_id))


def _driver_is_dead(run: RunRecord) -> bool:
    if not run.driver_pid or run.driver_host != socket.gethostname():
        return False
    try:
        os.kill(run.driver_pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(run.driver_pid)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    except (OSError, IndexError):
        return False


def _run_from_row(row: sqlite3.Row, nodes: list[sqlite3.Row]) -> RunRecord:
    return RunRecord(
        id=row["id"],
        workflow=row["workflow"],
        workflow_digest=row["workflow_digest"],
        workflow_yaml=row["workflow_yaml"],
        params=json.loads(row["params"]),
        backend=row["backend"],
        options=json.loads(row["options"]),
        status=row["status"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        driver_pid=row["driver_pid"],
        driver_host=row["driver_host"],
        cancel_requested=bool(row["cancel_requested"]),
        message=row["message"],
        nodes=tuple(
            NodeRecord(
                node_id=n["node_id"],
                status=n["status"],
                fingerprint=n["fingerprint"],
                started_at=n["started_at"],
                ended_at=n["ended_at"],
                exit_code=n["exit_code"],
                outputs=json.loads(n["outputs"]),
                log_path=n["log_path"],
                message=n["message"],
                attempts=n["attempts"],
                pid=n["pid"],
            )
            for n in nodes
        ),
    )
