import numpy as np
import pandas as pd

from component_store.components.fill_missing import fill_missing
from component_store.runtime.player_risk import player_risk_table


def test_fill_missing_median_fills_every_gap(dataset, output):
    frame = player_risk_table(2000)
    frame.loc[:9, "country"] = None
    median = frame["avg_session_minutes"].median()
    gaps = frame["avg_session_minutes"].isna()
    filled = output("filled")
    fill_missing(table=dataset(frame), filled=filled)
    result = pd.read_parquet(filled.path)
    assert not result.isna().any().any()
    assert np.allclose(result.loc[gaps, "avg_session_minutes"], median)
    assert result.loc[:9, "country"].eq(frame["country"].mode().iloc[0]).all()
    assert filled.metadata["missing_filled"] == int(gaps.sum()) + 10


def test_fill_missing_drop_rows(dataset, output):
    frame = player_risk_table(500)
    filled = output("filled")
    fill_missing(table=dataset(frame), filled=filled, strategy="drop_rows")
    assert len(pd.read_parquet(filled.path)) == len(frame.dropna())
