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
        ("INSERT INTO players (player_id) SELECT player_id FROM players", "this one is a INSERT"),
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
