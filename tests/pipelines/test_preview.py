import numpy as np
import pandas as pd
import pytest

from component_store.runtime.player_risk import player_risk_table
from pipelines.preview import PreviewError, preview_table


def test_preview_reads_schema_stats_and_head_only(tmp_path):
    frame = player_risk_table(30_000)
    path = tmp_path / "players.parquet"
    frame.to_parquet(path, index=False, row_group_size=5_000)
    preview = preview_table(path, rows=5)
    assert preview.rows == 30_000
    assert len(preview.head) == 5 and preview.head[0]["player_id"] == frame.player_id.iloc[0]
    columns = {c.name: c for c in preview.columns}
    assert columns["avg_session_minutes"].nulls == int(frame.avg_session_minutes.isna().sum())
    assert columns["account_age_days"].minimum == frame.account_age_days.min()
    assert columns["account_age_days"].maximum == frame.account_age_days.max()
    assert columns["is_cheater"].type == "int64"
    assert list(preview.head_frame().columns) == list(frame.columns)


def test_preview_of_empty_table(tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame({"x": np.array([], dtype="int64")}).to_parquet(path)
    preview = preview_table(path)
    assert preview.rows == 0 and preview.head == []


def test_preview_of_a_non_table_says_so(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("# hello")
    with pytest.raises(PreviewError, match="is not a Parquet table"):
        preview_table(path)


def test_preview_of_a_folder_of_part_files_as_spark_writes_them(tmp_path):
    frame = player_risk_table(3_000)
    folder = tmp_path / "features"
    folder.mkdir()
    for i, part in enumerate(np.array_split(frame, 3)):
        part.to_parquet(folder / f"part-0000{i}-abc.snappy.parquet", index=False)
    (folder / "_SUCCESS").write_text("")
    (folder / ".part-00000-abc.snappy.parquet.crc").write_bytes(b"\x00crc")
    preview = preview_table(folder, rows=1_500)
    assert preview.rows == 3_000
    assert [r["player_id"] for r in preview.head] == frame.player_id.iloc[:1_500].tolist()  # across part files
    columns = {c.name: c for c in preview.columns}
    assert columns["account_age_days"].maximum == frame.account_age_days.max()
    (tmp_path / "empty").mkdir()
    with pytest.raises(PreviewError, match="is an empty folder"):
        preview_table(tmp_path / "empty")
