import pandas as pd
import pytest

from component_store.components.select_columns import select_columns
from component_store.runtime.player_risk import player_risk_table


def test_select_columns_keeps_and_drops(dataset, output):
    table = dataset(player_risk_table(50))
    kept, dropped = output("kept"), output("dropped")
    select_columns(table=table, selected=kept, columns=["player_id", "is_cheater"])
    select_columns(table=table, selected=dropped, columns=["player_id"], drop=True)
    assert list(pd.read_parquet(kept.path).columns) == ["player_id", "is_cheater"]
    assert "player_id" not in pd.read_parquet(dropped.path).columns
    assert len(pd.read_parquet(dropped.path).columns) == 15


def test_select_columns_unknown_column_suggests(dataset, output):
    with pytest.raises(ValueError, match="no column 'is_cheeter' \\(did you mean 'is_cheater'\\?\\)"):
        select_columns(table=dataset(player_risk_table(10)), selected=output("s"), columns=["is_cheeter"])
