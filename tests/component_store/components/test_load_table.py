import pandas as pd
import pytest
from sklearn.datasets import load_wine

from component_store.components.load_table import load_table


@pytest.fixture
def wine() -> pd.DataFrame:
    frame = load_wine(as_frame=True).frame
    frame.columns = [str(c) for c in frame.columns]
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_load_table_reads_each_format(tmp_path, output, wine, suffix):
    path = tmp_path / f"wine{suffix}"
    if suffix == ".csv":
        wine.to_csv(path, index=False)
    elif suffix == ".parquet":
        wine.to_parquet(path, index=False)
    else:
        wine.to_json(path, orient="records", lines=True)
    table = output("table")
    load_table(table=table, path=str(path))
    loaded = pd.read_parquet(table.path)
    assert loaded.shape == wine.shape
    assert loaded["alcohol"].round(6).equals(wine["alcohol"].round(6))


def test_load_table_max_rows(tmp_path, output, wine):
    path = tmp_path / "wine.csv"
    wine.to_csv(path, index=False)
    table = output("table")
    load_table(table=table, path=str(path), max_rows=10)
    assert len(pd.read_parquet(table.path)) == 10


def test_load_table_missing_file_says_which(tmp_path, output):
    with pytest.raises(ValueError, match="no file at '.*nope.csv'"):
        load_table(table=output("table"), path=str(tmp_path / "nope.csv"))


def test_load_table_unknown_extension_asks_for_format(tmp_path, output):
    (tmp_path / "data.bin").write_text("x")
    with pytest.raises(ValueError, match="set file_format"):
        load_table(table=output("table"), path=str(tmp_path / "data.bin"))
