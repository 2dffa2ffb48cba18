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


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("logins_7d > 9**9**9", "an exponent must be a number between -64 and 64"),
        ("logins_7d ** logins_7d > 3", "an exponent must be a number between -64 and 64"),
        ("(logins_7d ** 64) ** 64 > 3", "a power of a power is not allowed"),
        ("logins_7d > 1e300", "is too large"),
        ("country == 'DE' * 100000000", "arithmetic on text is not allowed"),
        (f"country == '{'x' * 2000}'", "a text value is 2,000 characters; at most 1,000"),
    ],
)
def test_filter_rows_bounds_what_an_expression_can_make(dataset, output, expression, message):
    with pytest.raises(ValueError, match=message) as refused:
        filter_rows(table=dataset(player_risk_table(10)), filtered=output("f"), expression=expression)
    assert len(str(refused.value)) < 200, "the message never echoes the expression back"


def test_filter_rows_still_takes_small_powers(dataset, output):
    frame = player_risk_table(200)
    filtered = output("filtered")
    filter_rows(
        table=dataset(frame), filtered=filtered, expression="logins_7d ** 2 > 9 and avg_session_minutes ** -1 < 1"
    )
    expected = (frame.logins_7d**2 > 9) & (frame.avg_session_minutes**-1 < 1)
    assert len(pd.read_parquet(filtered.path)) == int(expected.sum()) > 0
