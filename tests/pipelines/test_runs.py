import sqlite3

import pytest

from pipelines.runs import SCHEMA_VERSION, RunNotFound, RunStore
from tessera.errors import TesseraError


def test_run_store_records_its_schema_version_and_refuses_a_newer_one(tmp_path):
    path = tmp_path / "runs.db"
    RunStore(path)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(TesseraError, match="newer Tessera"):
        RunStore(path)


def test_run_ids_resolve_by_prefix_and_suggest(tmp_path):
    store = RunStore(tmp_path / "runs.db")
    for run_id in ("20261123-010101-aaaa", "20261123-010101-bbbb"):
        store.create(run_id, "p/w", "d", "name: w\n", {}, "local", {}, ["a"])
    assert store.get("20261123-010101-a").id == "20261123-010101-aaaa"
    with pytest.raises(RunNotFound, match="matches 2 runs"):
        store.get("20261123-010101")
    with pytest.raises(RunNotFound, match="did you mean '20261123-010101-aaaa'"):
        store.get("20261123-010101-aaab")
