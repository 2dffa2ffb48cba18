"""The workspace's stores are created once, under a lock; nodes never migrate them; a half-migrated store is repaired."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy

from tessera.errors import WorkspaceError
from tessera.stores import STAMP_FILE, prepare_mlflow_store, prepare_stores
from tessera.workspace import init_workspace


def mlflow_schema_ok(uri: str) -> bool:
    """MLflow's own check: the schema is at its head revision."""
    from mlflow.store.db.utils import _verify_schema

    engine = sqlalchemy.create_engine(uri)
    try:
        _verify_schema(engine)
        return True
    finally:
        engine.dispose()


PREPARE = (
    "import json, sys; from pathlib import Path; from tessera.stores import prepare_stores; "
    "from tessera.workspace import load_workspace; print(json.dumps(prepare_stores(load_workspace(Path(sys.argv[1])))))"
)


def prepare_at_once(root: Path, processes: int) -> list[list[str]]:
    """`prepare_stores` in separate processes started together, as separate commands or runners are."""
    started = [
        subprocess.Popen([sys.executable, "-c", PREPARE, str(root)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(processes)
    ]
    results = []
    for process in started:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()[-2000:]
        results.append(json.loads(out.decode().strip().splitlines()[-1]))
    return results


def test_four_processes_preparing_a_fresh_workspace_at_once_leave_one_migrated_store(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    results = prepare_at_once(workspace.root, 4)
    creators = [r for r in results if r]
    assert len(creators) == 1, f"exactly one process created the stores, the others waited: {results}"
    assert any("created the MLflow store" in line for line in creators[0])
    assert mlflow_schema_ok(workspace.tracking_uri())
    assert prepare_stores(workspace) == [], "a prepared workspace is not prepared again"


def test_a_deleted_store_is_created_again_despite_the_stamp(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    prepare_stores(workspace)
    assert (workspace.state_dir / STAMP_FILE).exists()
    (workspace.state_dir / "mlflow.db").unlink()
    assert any("created the MLflow store" in line for line in prepare_stores(workspace))
    assert mlflow_schema_ok(workspace.tracking_uri())


def half_migrated(uri: str, table: str = "latest_metrics") -> None:
    """What two processes migrating one fresh store leave: a migration copy beside its table, an older revision."""
    from alembic import command
    from mlflow.store.db.base_sql_model import Base  # noqa: F401  (the ORM tables' metadata)
    from mlflow.store.db.utils import InitialBase, _get_alembic_config

    engine = sqlalchemy.create_engine(uri)
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(uri)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "bd07f7e963c5")  # a revision from mid-2019: many migrations still to come
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(f'CREATE TABLE "_alembic_tmp_{table}" AS SELECT * FROM "{table}"'))
    engine.dispose()


def test_a_store_left_half_migrated_by_the_old_race_is_repaired_and_passes_mlflows_check(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "ws")
    half_migrated(workspace.tracking_uri())
    with pytest.raises(Exception, match="out-of-date database schema"):
        mlflow_schema_ok(workspace.tracking_uri())
    done = prepare_stores(workspace)
    assert "dropped _alembic_tmp_latest_metrics, left by an interrupted migration" in done
    assert any("upgraded the MLflow store" in line for line in done)
    assert mlflow_schema_ok(workspace.tracking_uri())
    from mlflow import MlflowClient

    client = MlflowClient(workspace.tracking_uri())  # the plain client works on the repaired store
    run = client.create_run(client.create_experiment("after-repair"))
    client.log_metric(run.info.run_id, "auc", 0.9)
    assert client.get_run(run.info.run_id).data.metrics == {"auc": 0.9}


def test_a_migration_copy_whose_table_is_gone_is_refused_not_guessed(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    half_migrated(uri, table="tags")
    engine = sqlalchemy.create_engine(uri)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text('DROP TABLE "tags"'))
    engine.dispose()
    with pytest.raises(WorkspaceError, match=r"_alembic_tmp_tags hold\(s\) the rows of tags.*back up the database"):
        prepare_mlflow_store(uri)


def test_an_unreachable_store_names_itself_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match=r"postgresql://tessera:\*\*\*@127.0.0.1:1/mlflow could not be prepared"):
        prepare_mlflow_store("postgresql://tessera:s3cret@127.0.0.1:1/mlflow")


def test_postgresql_store_is_prepared_once_by_racing_processes(tmp_path: Path, fresh_postgres_url: str) -> None:
    config = f"name: pg\ntracking_uri: {fresh_postgres_url}\n"
    root = tmp_path / "ws"
    root.mkdir()
    (root / "tessera.yaml").write_text(config)
    results = prepare_at_once(root, 3)
    assert sum(1 for r in results if r) == 1, results
    assert mlflow_schema_ok(fresh_postgres_url)
