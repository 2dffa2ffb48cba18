import pandas as pd
import pytest

from component_store.components.filter_rows import filter_rows
from component_store.runtime.player_risk import player_risk_table


def test_filter_rows_keeps_matching_rows(dataset, output):
    frame = player_risk_table(2000)
    filtered = output("filtered")
    filter_rows(
        table=dataset(frame), filtered=filtered, expression="account_age_days > 30 and platform in ['pc', 'mobile']"
    )
    expected = frame[(frame.account_age_days > 30) & frame.platform.isin(["pc", "mobile"])]
    assert len(pd.read_parquet(filtered.path)) == len(expected) > 0


@pytest.mark.parametrize(
    "expression",
    ["__import__('os').system('true')", "player_id.str.len() > 3", "@secret > 1", "lambda: 1"],
)
def test_filter_rows_refuses_code(dataset, output, expression):
    with pytest.raises(ValueError, match="filter_rows: "):
        filter_rows(table=dataset(player_risk_table(10)), filtered=output("f"), expression=expression)


def test_filter_rows_names_unknown_column(dataset, output):
    with pytest.raises(ValueError, match="did you mean 'logins_7d'"):
        filter_rows(table=dataset(player_risk_table(10)), filtered=output("f"), expression="logins_7 > 3")
