"""export_table against a real S3-compatible server (moto's, on loopback) and the local disk: every format
reads back equal, an existing file is kept unless overwrite, and the secret key is never printed."""

from __future__ import annotations

import pandas as pd
import pytest
from kfp.dsl import Artifact

from component_store.components.export_table import export_table
from tests.conftest import S3_SECRET

pytestmark = pytest.mark.slow


def test_export_table_writes_every_format_to_s3_and_keeps_what_is_there(s3, dataset, output, capsys) -> None:
    frame = pd.DataFrame({
        "player_id": ["p1", "p2", "p3"], "risk": [0.1, None, 0.9], "seen": pd.to_datetime(["2026-12-01"] * 3),
    })  # fmt: skip
    table = dataset(frame)
    readers = {"parquet": pd.read_parquet, "csv": pd.read_csv, "jsonl": lambda p: pd.read_json(p, lines=True)}
    for kind, read in readers.items():
        url = f"s3://risk-data/scores/daily.{kind}"
        exported = output(f"exported-{kind}", Artifact)
        export_table(table=table, exported=exported, path=url)
        back = read(url)
        assert back["player_id"].tolist() == ["p1", "p2", "p3"] and back["risk"].isna().tolist() == [False, True, False]
        assert exported.metadata == {"uri": url, "rows": 3, "format": kind}
    with pytest.raises(ValueError, match="exists; set overwrite to replace it"):
        export_table(table=table, exported=output("again", Artifact), path="s3://risk-data/scores/daily.parquet")
    export_table(table=dataset(frame.head(1)), exported=output("over", Artifact), path="s3://risk-data/scores/daily.parquet", overwrite=True)  # fmt: skip
    assert len(pd.read_parquet("s3://risk-data/scores/daily.parquet")) == 1
    printed = capsys.readouterr()
    assert S3_SECRET not in printed.out + printed.err


def test_export_table_on_disk_is_whole_or_absent_and_refuses_what_it_cannot_tell(tmp_path, dataset, output) -> None:
    table = dataset(pd.DataFrame({"a": range(5)}))
    target = tmp_path / "out" / "nested" / "scores.parquet"
    export_table(table=table, exported=output("local", Artifact), path=str(target))
    assert pd.read_parquet(target)["a"].tolist() == list(range(5))
    assert [p.name for p in target.parent.iterdir()] == ["scores.parquet"], "no temporary file left"
    with pytest.raises(ValueError, match="cannot tell the format of .*scores.xlsx"):
        export_table(table=table, exported=output("x", Artifact), path=str(tmp_path / "scores.xlsx"))
    with pytest.raises(ValueError, match="cannot write to 'nosuch://bucket/a.csv'"):
        export_table(table=table, exported=output("y", Artifact), path="nosuch://bucket/a.csv")
