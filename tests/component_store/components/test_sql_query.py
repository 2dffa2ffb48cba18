import sqlite3

import pandas as pd
import pytest

from component_store.components.sql_query import sql_query
from component_store.runtime.player_risk import player_risk_table


@pytest.fixture
def players_db(tmp_path):
    path = tmp_path / "players.db"
    with sqlite3.connect(path) as connection:
        player_risk_table(500).to_sql("players", connection, index=False)
    return f"sqlite:///{path}"


def test_sql_query_selects_rows(players_db, output):
    table = output("table")
    sql_query(table=table, url=players_db, query="SELECT player_id, is_cheater FROM players WHERE logins_7d > 5")
    frame = pd.read_parquet(table.path)
    assert list(frame.columns) == ["player_id", "is_cheater"]
    assert 0 < len(frame) < 500


def test_sql_query_max_rows(players_db, output):
    table = output("table")
    sql_query(table=table, url=players_db, query="SELECT * FROM players", max_rows=25)
    assert len(pd.read_parquet(table.path)) == 25


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("DELETE FROM players", "this one is a DELETE"),
        ("DROP TABLE players", "this one is a DROP"),
        ("SELECT 1; DELETE FROM players", "exactly one statement"),
        ("INSERT INTO players (player_id) SELECT player_id FROM players", "this one is an INSERT"),
        ("SELECT * INTO backup FROM players", r"SELECT … INTO writes a table"),
        ("WITH gone AS (DELETE FROM players RETURNING *) SELECT * FROM gone", "this one also has DELETE"),
        ("SELECT * FROM players FOR UPDATE", "this one also has FOR UPDATE"),
        ("PRAGMA writable_schema = 1", "this one is a PRAGMA"),
        ("UPDATE players SET is_cheater = 0", "this one is an UPDATE"),
        ("SELEC player_id FROM players", "does not parse as SQL"),
    ],
)
def test_sql_query_refuses_anything_but_select(players_db, output, query, message):
    with pytest.raises(ValueError, match=message):
        sql_query(table=output("table"), url=players_db, query=query)
    with sqlite3.connect(players_db.removeprefix("sqlite:///")) as connection:
        assert connection.execute("SELECT COUNT(*) FROM players").fetchone()[0] == 500


def test_sql_query_error_hides_password(output):
    with pytest.raises(ValueError) as caught:
        sql_query(table=output("table"), url="postgresql://analyst:s3cret@127.0.0.1:1/none", query="SELECT 1")
    assert "s3cret" not in str(caught.value)
    assert "***" in str(caught.value)


def test_sql_query_on_postgresql(output, postgres_url):
    import sqlalchemy

    engine = sqlalchemy.create_engine(postgres_url)
    player_risk_table(200).to_sql("tessera_players", engine, index=False, if_exists="replace")
    engine.dispose()
    table = output("table")
    sql_query(table=table, url=postgres_url, query="SELECT COUNT(*) AS n FROM tessera_players")
    assert pd.read_parquet(table.path)["n"].iloc[0] == 200


def test_sql_query_keeps_at_most_max_rows_by_default(players_db, output):
    table = output("table")
    sql_query(
        table=table, url=players_db, query="SELECT a.player_id, b.is_cheater FROM players a, players b", max_rows=1000
    )
    assert len(pd.read_parquet(table.path)) == 1000, "a cross join of 250,000 rows stops at the cap"


def test_the_sqlite_connection_itself_is_read_only(players_db):
    """Even a write that slipped past the parser could not change the file."""
    import sqlalchemy

    from component_store.runtime.sql_guard import _read_only_engine

    engine = _read_only_engine(sqlalchemy.engine.make_url(players_db), "sqlite", 5)
    with pytest.raises(sqlalchemy.exc.OperationalError, match="readonly|read-only"), engine.connect() as connection:
        connection.exec_driver_sql("DELETE FROM players")
    engine.dispose()


def test_the_postgresql_connection_is_read_only_with_a_statement_timeout(postgres_url, output):
    import sqlalchemy

    from component_store.runtime.sql_guard import _read_only_engine

    engine = _read_only_engine(sqlalchemy.engine.make_url(postgres_url), "postgresql", 1)
    with pytest.raises(sqlalchemy.exc.InternalError, match="read-only transaction"), engine.connect() as connection:
        connection.exec_driver_sql("CREATE TABLE tessera_should_not_exist (a int)")
    engine.dispose()
    with pytest.raises(ValueError, match="statement timeout"):
        sql_query(table=output("table"), url=postgres_url, query="SELECT pg_sleep(3)", timeout_seconds=1)


def test_databases_that_cannot_be_kept_read_only_are_refused(output):
    with pytest.raises(ValueError, match="reads SQLite, PostgreSQL and MySQL/MariaDB databases read-only; 'oracle'"):
        sql_query(table=output("table"), url="oracle://scott:tiger@127.0.0.1/db", query="SELECT 1 FROM dual")
