import pandas as pd
import pytest

from component_store.components.sample_dataset import sample_dataset


def test_sample_dataset_player_risk_is_imbalanced_and_seeded(output):
    first, second = output("a"), output("b")
    sample_dataset(table=first, dataset="player_risk", rows=3000, seed=7)
    sample_dataset(table=second, dataset="player_risk", rows=3000, seed=7)
    frame = pd.read_parquet(first.path)
    assert len(frame) == 3000
    assert 0.01 < frame["is_cheater"].mean() < 0.10
    assert {"player_id", "account_age_days", "reports_received_30d", "payment_amount_30d"} <= set(frame.columns)
    assert frame["avg_session_minutes"].isna().any(), "telemetry gaps are part of the table"
    assert frame.equals(pd.read_parquet(second.path))
    assert first.metadata["rows"] == 3000
    assert first.metadata["columns"]["is_cheater"] == "int64"


@pytest.mark.parametrize(("name", "rows", "columns"), [("breast_cancer", 569, 31), ("iris", 150, 5), ("wine", 178, 14)])
def test_sample_dataset_sklearn_tables(output, name, rows, columns):
    table = output("table")
    sample_dataset(table=table, dataset=name)
    frame = pd.read_parquet(table.path)
    assert frame.shape == (rows, columns)
    assert "target" in frame.columns


def test_sample_dataset_honours_quick_mode_sample(output, monkeypatch):
    monkeypatch.setenv("TESSERA_SAMPLE_ROWS", "50")
    table = output("table")
    sample_dataset(table=table, dataset="breast_cancer", rows=100)
    assert len(pd.read_parquet(table.path)) == 50
