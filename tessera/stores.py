"""The workspace's MLflow and Optuna stores: created and migrated once, under a lock, never by nodes.

MLflow migrates a SQL tracking store from whichever process opens it first. Two processes
opening a fresh SQLite store at once both run the migrations and corrupt it for good
(`table _alembic_tmp_metrics already exists`, then the same error on every later run). So every
process that may be first to open a workspace's stores (`tessera init`, both runners before they
start nodes, `tessera up`, the faces that read the registry) calls `prepare_stores` first:

- one process at a time (a file lock in `.tessera/`, plus a PostgreSQL advisory lock for a
  PostgreSQL store, which processes on other machines may share) creates or upgrades the store;
- what an interrupted migration left behind (`_alembic_tmp_*` tables beside the table they copy)
  is dropped before upgrading; a copy whose original is gone is refused, with what to do;
- MLflow's own schema check must pass afterwards;
- Optuna's default SQLite storage is created under the same lock (it has the same race).

A stamp file remembers the store URIs and library versions prepared, so later calls cost a
file read and never import MLflow. Nodes then find a migrated store and never migrate it.
"""

from __future__ import annotations

import fcntl
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tessera.errors import WorkspaceError

if TYPE_CHECKING:
    from tessera.workspace import Workspace

STAMP_FILE = "stores.json"
LOCK_FILE = "stores.lock"
MIGRATION_COPY_PREFIX = "_alembic_tmp_"
_PG_LOCK_KEY = 0x7E55E7A  # one advisory lock id for "an MLflow store is being migrated by Tessera"


def stores_ready(workspace: Workspace) -> bool:
    """Whether `prepare_stores` has made this workspace's stores ready (and nothing changed since)."""
    return _stamp_matches(workspace.state_dir / STAMP_FILE, _wanted_stamp(workspace), workspace)


def prepare_stores(workspace: Workspace) -> list[str]:
    """Make the workspace's tracking store (and default Optuna storage) ready for many processes.

    Idempotent and cheap once done. Returns what was done this time (empty when nothing was).

    Raises:
        WorkspaceError: when a store cannot be prepared; the message says what to do.

    Example:
        >>> prepare_stores(find_workspace())  # doctest: +SKIP
        ['created the MLflow store sqlite:////ws/.tessera/mlflow.db']
    """
    wanted = _wanted_stamp(workspace)
    stamp_path = workspace.state_dir / STAMP_FILE
    if _stamp_matches(stamp_path, wanted, workspace):
        return []
    workspace.state_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(workspace.state_dir / LOCK_FILE):
        if _stamp_matches(stamp_path, wanted, workspace):  # another process finished it meanwhile
            return []
        done = []
        uri = workspace.tracking_uri()
        if is_sql_store(uri):
            done += prepare_mlflow_store(uri)
        if is_sql_store(workspace.optuna_storage) and wanted["optuna"] != "none":  # only tuning uses it
            done += _prepare_optuna_storage(workspace.optuna_storage)
        from tessera.workspace import write_atomically

        write_atomically(stamp_path, json.dumps(wanted, indent=1) + "\n")
        return done


def is_sql_store(uri: str) -> bool:
    """True for the database URIs MLflow and Optuna migrate themselves (SQLite, PostgreSQL, MySQL…)."""
    return uri.split(":", 1)[0].split("+", 1)[0] in {"sqlite", "postgresql", "mysql", "mssql"}


def prepare_mlflow_store(uri: str) -> list[str]:
    """Create or upgrade MLflow's SQL store at `uri`, repairing an interrupted migration; the caller holds the lock.

    Raises:
        WorkspaceError: when the store cannot be reached or repaired.
    """
    import sqlalchemy
    from mlflow.store.db import utils as mlflow_db

    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):  # we say what was done ourselves
        logging.getLogger(name).setLevel(logging.WARNING)
    _make_sqlite_folder(uri)
    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool)
    done: list[str] = []
    try:
        with _advisory_lock(engine):
            done += repair_interrupted_migration(engine)
            fresh = mlflow_db._is_empty_database(engine)
            head = mlflow_db._get_latest_schema_revision()
            if not mlflow_db._all_tables_exist(engine) or mlflow_db._get_schema_version(engine) != head:
                mlflow_db._initialize_tables(engine)  # creates what is missing, then upgrades to head
                done.append(f"{'created' if fresh else 'upgraded'} the MLflow store {_safe_uri(engine)}")
            mlflow_db._verify_schema(engine)
    except WorkspaceError:
        raise
    except Exception as exc:  # a driver, network or migration error: say which store and what to try
        raise WorkspaceError(
            f"The MLflow store {_safe_uri(engine)} could not be prepared: {str(exc).splitlines()[0][:300]}. "
            "Check that it is reachable, then run the command again (take a backup before migrating by hand "
            "with: mlflow db upgrade URI)."
        ) from exc
    finally:
        engine.dispose()
    return done


def repair_interrupted_migration(engine: Any) -> list[str]:
    """Drop the `_alembic_tmp_T` copies an interrupted SQLite migration left beside an intact `T`.

    Raises:
        WorkspaceError: when a copy is all that is left of its table (its rows would be lost).
    """
    import sqlalchemy

    tables = set(sqlalchemy.inspect(engine).get_table_names())
    copies = sorted(t for t in tables if t.startswith(MIGRATION_COPY_PREFIX))
    orphans = [c for c in copies if c[len(MIGRATION_COPY_PREFIX) :] not in tables]
    if orphans:
        originals = ", ".join(c[len(MIGRATION_COPY_PREFIX) :] for c in orphans)
        raise WorkspaceError(
            f"The MLflow store {_safe_uri(engine)} was left half-migrated: {', '.join(orphans)} hold(s) the rows of "
            f"{originals}, which no longer exist(s). Tessera will not guess: back up the database, then restore it "
            "from a backup or rename each copy to its table and run: mlflow db upgrade URI"
        )
    with engine.begin() as connection:
        for copy in copies:
            connection.execute(sqlalchemy.text(f'DROP TABLE "{copy}"'))
    return [f"dropped {copy}, left by an interrupted migration" for copy in copies]


def _prepare_optuna_storage(url: str) -> list[str]:
    _make_sqlite_folder(url)
    path = _sqlite_file(url)
    existed = path is not None and path.exists()
    from optuna.storages import RDBStorage

    storage = RDBStorage(url)
    storage.engine.dispose()
    return [] if existed else [f"created the Optuna storage {url}"]


def _wanted_stamp(workspace: Workspace) -> dict[str, str]:
    def installed(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "none"

    return {
        "tracking_uri": workspace.tracking_uri(),
        "optuna_storage": workspace.optuna_storage,
        "mlflow": installed("mlflow"),
        "optuna": installed("optuna"),
    }


def _stamp_matches(path: Path, wanted: dict[str, str], workspace: Workspace) -> bool:
    try:
        if json.loads(path.read_text()) != wanted:
            return False
    except (OSError, ValueError):
        return False
    # a SQLite file deleted since (a fresh start by hand) must be created again, under the lock
    files = [_sqlite_file(wanted["tracking_uri"]), _sqlite_file(wanted["optuna_storage"])]
    return all(f is None or f.exists() for f in files)


def _sqlite_file(uri: str) -> Path | None:
    prefix = "sqlite:///"
    if not uri.startswith(prefix) or uri[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(uri[len(prefix) :])


def _make_sqlite_folder(uri: str) -> None:
    path = _sqlite_file(uri)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _safe_uri(engine: Any) -> str:
    """The store's URL without its password (errors are shown to people and written to logs)."""
    return str(engine.url.render_as_string(hide_password=True))


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def _advisory_lock(engine: Any) -> Iterator[None]:
    """PostgreSQL: a session advisory lock, so workspaces on other machines sharing the store wait too."""
    if engine.dialect.name != "postgresql":
        yield
        return
    import sqlalchemy

    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        try:
            yield
        finally:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY})
