import pandas as pd
import pandera.pandas as pa
import pytest
from kfp.dsl import Markdown

from component_store.components.validate_schema import validate_schema
from component_store.runtime.player_risk import player_risk_table

DECLARED = pa.DataFrameSchema(
    {
        "account_age_days": pa.Column(int, pa.Check.ge(1)),
        "win_rate": pa.Column(float, pa.Check.in_range(0, 1)),
        "is_cheater": pa.Column(int, pa.Check.isin([0, 1])),
    }
).to_yaml()


def test_validate_schema_infers_and_passes(dataset, output):
    table = dataset(player_risk_table(300))
    validated, report = output("validated"), output("report", Markdown)
    validate_schema(table=table, validated=validated, report=report)
    assert pd.read_parquet(validated.path).equals(pd.read_parquet(table.path))
    text = open(report.path).read()
    assert "passed" in text
    assert "schema: inferred" in text
    assert "account_age_days" in text and "schema_type: dataframe" in text
    assert report.metadata["violations"] == 0


def test_validate_schema_fails_on_declared_violations(dataset, output):
    frame = player_risk_table(300)
    frame.loc[:4, "win_rate"] = 1.5
    frame.loc[:1, "is_cheater"] = 7
    validated, report = output("validated"), output("report", Markdown)
    with pytest.raises(ValueError, match=r"validate_schema: 7 violation\(s\).*win_rate: in_range"):
        validate_schema(table=dataset(frame), validated=validated, report=report, schema_yaml=DECLARED)
    assert "win_rate" in open(report.path).read()


def test_validate_schema_only_warns_when_told(dataset, output):
    frame = player_risk_table(100)
    frame.loc[:2, "account_age_days"] = 0
    validated, report = output("validated"), output("report", Markdown)
    validate_schema(table=dataset(frame), validated=validated, report=report, schema_yaml=DECLARED, on_failure="warn")
    assert report.metadata["violations"] == 3
    assert len(pd.read_parquet(validated.path)) == 100
