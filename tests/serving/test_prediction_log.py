"""The prediction log's writer on its own: the rows it writes, value by value, for requests of several
shapes at once (a classifier's default and canary versions, multi-row and single-row requests, records
with text), and what it does with what it cannot log: rows that do not fit their columns, a full queue."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from prometheus_client import REGISTRY

from serving.prediction_log import LoggedRequest, PredictionLog, log_files, to_table

COLUMNS = ("spend", "sessions")
CLASSES = ("cheater", "fair", "unsure")


def classified(request_id: str, version: str, role: str, rows: list[list[float]]) -> LoggedRequest:
    probabilities = np.array([[0.7, 0.2, 0.1] if row[0] > 5 else [0.1, 0.8, 0.1] for row in rows])
    labels = np.array([CLASSES[i] for i in probabilities.argmax(axis=1)])
    outputs = {"predictions": labels, "probabilities": probabilities}
    return LoggedRequest(request_id, version, role, 1_700_000_000.5, np.array(rows), COLUMNS, outputs, CLASSES, 2.5)


def test_each_scored_row_is_one_log_row_with_its_request_version_role_inputs_and_class_probabilities() -> None:
    entries = [
        classified("a", "3", "default", [[9.0, 1.0], [1.0, 4.0], [7.0, 2.0]]),
        classified("b", "4", "canary", [[2.0, 2.0]]),
        classified("c", "3", "default", [[1.5, 0.0]]),
        LoggedRequest(  # a raw-columns endpoint: records as sent, a number where text was expected
            "d", "3", "default", 1_700_000_001.0, [{"country": "BR", "level": 3}, {"country": 7, "level": None}],
            None, {"predictions": np.array(["fair", "cheater"])},
        ),
    ]  # fmt: skip
    logged = to_table("cheater-api", entries).to_pandas()
    logged = logged.assign(request_id=logged["request_id"].astype(str)).sort_values(["request_id", "row"])

    assert logged["request_id"].tolist() == ["a", "a", "a", "b", "c", "d", "d"]
    assert logged["row"].tolist() == [0, 1, 2, 0, 0, 0, 1]
    assert logged["model_version"].astype(str).tolist() == ["3", "3", "3", "4", "3", "3", "3"]
    assert logged["role"].astype(str).tolist() == ["default"] * 3 + ["canary"] + ["default"] * 3
    assert set(logged["endpoint"].astype(str)) == {"cheater-api"}
    assert logged["time"].iloc[0] == pd.Timestamp(1_700_000_000.5, unit="s", tz="UTC")
    assert logged["input:spend"].tolist()[:5] == [9.0, 1.0, 7.0, 2.0, 1.5]
    assert logged["input:sessions"].tolist()[:5] == [1.0, 4.0, 2.0, 2.0, 0.0]
    assert logged["output:predictions"].tolist()[:5] == ["cheater", "fair", "cheater", "fair", "fair"]
    assert logged["output:probabilities:cheater"].tolist()[:5] == [0.7, 0.1, 0.7, 0.1, 0.1]
    assert logged["output:probabilities:unsure"].tolist()[:5] == [0.1] * 5
    assert logged["input:country"].tolist()[5:] == ["BR", "7"]  # mixed kinds become text, never an error
    assert logged["input:level"].tolist()[5] == 3 and pd.isna(logged["input:level"].tolist()[6])
    assert logged["output:predictions"].tolist()[5:] == ["fair", "cheater"]
    assert logged["latency_ms"].tolist()[0] == 2.5 and pd.isna(logged["latency_ms"].tolist()[5])


def dropped(endpoint: str) -> float:
    return REGISTRY.get_sample_value("tessera_prediction_log_dropped_rows_total", {"endpoint": endpoint}) or 0.0


def test_rows_that_do_not_fit_their_columns_are_counted_dropped_and_the_rest_is_written(tmp_path: Path) -> None:
    writer = PredictionLog(tmp_path, "odd-rows", flush_seconds=60)
    writer.record(classified("good", "3", "default", [[9.0, 1.0], [1.0, 2.0]]), 2)
    bad = classified("bad", "5", "default", [[1.0, 2.0]])._replace(rows=np.array([[1.0, 2.0, 3.0]]))
    writer.record(bad, 1)
    writer.close()
    written = pd.concat(pd.read_parquet(path) for path in log_files(tmp_path))
    assert written["request_id"].astype(str).tolist() == ["good", "good"]
    assert dropped("odd-rows") == 1
    assert not writer.disabled  # one bad request never turns logging off


def test_a_full_queue_drops_and_counts_instead_of_growing_or_blocking(tmp_path: Path) -> None:
    writer = PredictionLog(tmp_path, "busy", max_queue=3, flush_seconds=60)
    started = time.perf_counter()
    for index in range(5):
        writer.record(classified(f"r{index}", "3", "default", [[1.0, 2.0], [3.0, 4.0]]), 2)
    assert time.perf_counter() - started < 1.0
    writer.close()
    written = pd.concat(pd.read_parquet(path) for path in log_files(tmp_path))
    assert sorted(set(written["request_id"].astype(str))) == ["r0", "r1", "r2"]
    assert dropped("busy") == 4  # two requests of two rows


def test_a_canary_whose_outputs_differ_in_type_is_written_beside_the_default_not_lost(tmp_path: Path) -> None:
    writer = PredictionLog(tmp_path, "mixed", flush_seconds=60)
    writer.record(classified("label", "3", "default", [[9.0, 1.0]]), 1)
    score = LoggedRequest("score", "4", "canary", time.time(), np.array([[1.0, 2.0]]), COLUMNS,
                          {"predictions": np.array([0.25])})  # fmt: skip
    writer.record(score, 1)
    writer.close()
    files = log_files(tmp_path)
    assert len(files) == 2 and not writer.disabled
    by_id = {str(row.request_id): row for path in files for row in pd.read_parquet(path).itertuples()}
    assert by_id["label"].model_version == "3" and by_id["score"].model_version == "4"


def test_a_batch_that_fails_to_convert_for_any_reason_is_counted_and_the_writer_goes_on(
    tmp_path: Path, monkeypatch
) -> None:
    from serving.prediction_log import LogShape

    real_table, failures = LogShape.table, []

    def fails_once(shape: LogShape, endpoint: str):
        if not failures:
            failures.append(endpoint)
            raise MemoryError("no room for this batch")
        return real_table(shape, endpoint)

    monkeypatch.setattr(LogShape, "table", fails_once)
    writer = PredictionLog(tmp_path, "unlucky", flush_seconds=0.05)
    writer.record(classified("lost", "3", "default", [[9.0, 1.0]]), 1)
    deadline = time.monotonic() + 10
    while not failures and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.record(classified("kept", "3", "default", [[1.0, 2.0]]), 1)
    writer.close()
    written = pd.concat(pd.read_parquet(path) for path in log_files(tmp_path))
    assert written["request_id"].astype(str).tolist() == ["kept"], "the writer thread outlived the failure"
    assert dropped("unlucky") == 1 and not writer.disabled


def test_outputs_are_logged_by_name_whatever_order_the_model_answers_them_in(tmp_path: Path) -> None:
    writer = PredictionLog(tmp_path, "reordered", flush_seconds=60)
    first = classified("first", "3", "default", [[9.0, 1.0]])
    shape = writer.shape("3", "default", COLUMNS, CLASSES, ("predictions", "probabilities"))
    writer.add(shape, "first", first.at, 1.0, first.rows, first.outputs)
    swapped = classified("swapped", "3", "default", [[1.0, 2.0]])
    writer.add(shape, "swapped", swapped.at, 1.0, swapped.rows, dict(reversed(list(swapped.outputs.items()))))
    renamed = {"label": swapped.outputs["predictions"], "probabilities": swapped.outputs["probabilities"]}
    writer.add(shape, "renamed", swapped.at, 1.0, swapped.rows, renamed)
    writer.close()
    written = pd.concat(pd.read_parquet(path) for path in log_files(tmp_path)).set_index("request_id")
    assert written.loc["swapped", "output:predictions"] == "fair"
    assert written.loc["swapped", "output:probabilities:fair"] == 0.8
    assert "renamed" not in written.index and dropped("reordered") == 1, "a missing output: counted, nothing half-kept"


def test_values_unlike_those_gathered_are_counted_dropped_and_any_array_layout_is_logged_as_it_reads(
    tmp_path: Path,
) -> None:
    writer = PredictionLog(tmp_path, "layouts", flush_seconds=60)
    shape = writer.shape("3", "default", COLUMNS, CLASSES, ("predictions", "probabilities"))
    first = classified("first", "3", "default", [[9.0, 1.0]])
    writer.add(shape, "first", first.at, 1.0, first.rows, first.outputs)
    fortran = classified("fortran", "3", "default", [[1.0, 2.0], [8.0, 3.0]])
    writer.add(shape, "fortran", fortran.at, 1.0, np.asfortranarray(fortran.rows), fortran.outputs)
    view = np.array([[6.0, 0.0, 5.0, 0.0]])[:, ::2]  # every other column: a view, not in C order
    widened = {"predictions": np.array(["cheater"]), "probabilities": np.array([[0.6, 0.3, 0.1]])}
    writer.add(shape, "view", first.at, 1.0, view, widened)
    single = {"predictions": np.array(["fair"]), "probabilities": np.array([[0.25, 0.5, 0.25]], dtype="float32")}
    writer.add(shape, "float32", first.at, 1.0, np.array([[1.0, 1.0]]), single)
    text = {"predictions": np.array(["fair"]), "probabilities": np.array([["low", "high", "low"]])}
    writer.add(shape, "text", first.at, 1.0, np.array([[1.0, 1.0]]), text)
    writer.close()
    written = pd.concat(pd.read_parquet(path) for path in log_files(tmp_path))
    written = written.assign(request_id=written["request_id"].astype(str)).set_index(["request_id", "row"])
    assert written["input:spend"].to_dict() == {("first", 0): 9.0, ("fortran", 0): 1.0, ("fortran", 1): 8.0,
                                                 ("view", 0): 6.0, ("float32", 0): 1.0}  # fmt: skip
    assert written["input:sessions"].tolist() == [1.0, 2.0, 3.0, 5.0, 1.0]
    assert written["output:predictions"].tolist() == ["cheater", "fair", "cheater", "cheater", "fair"]
    assert written.loc[("view", 0), "output:probabilities:fair"] == 0.3
    assert written.loc[("float32", 0), "output:probabilities:fair"] == 0.5, "float32 read as float64, not misread"
    assert dropped("layouts") == 1, "text probabilities where numbers were gathered: dropped, not misread"


def test_ints_then_floats_widen_what_was_gathered_as_concatenating_them_would() -> None:
    from serving.prediction_log import Gathered

    gathered = Gathered()
    parts = [np.array([3, 5]), np.array([2.5]), np.array([7], dtype="int8")]
    for part in parts:
        gathered.append(gathered.checked(part))
    assert gathered.array().dtype == np.concatenate(parts).dtype == np.float64
    assert gathered.array().tolist() == np.concatenate(parts).tolist() == [3.0, 5.0, 2.5, 7.0]


def test_the_writer_process_writes_what_the_writer_thread_writes(tmp_path: Path) -> None:
    entries = [
        classified("a", "3", "default", [[9.0, 1.0], [1.0, 4.0]]),
        classified("b", "4", "canary", [[2.0, 2.0]]),
        classified("c", "3", "default", [[1.5, 0.0]]),
        LoggedRequest("d", "3", "default", 1_700_000_001.0, [{"country": "BR", "level": 3}], None,
                      {"predictions": np.array(["fair"])}),
    ]  # fmt: skip
    written = {}
    for own_process in (False, True):
        folder = tmp_path / f"own-process-{own_process}"
        writer = PredictionLog(folder, "same", flush_seconds=60, own_process=own_process)
        for entry in entries:
            writer.record(entry, len(entry.rows))
        writer.close()
        logged = pd.concat(pd.read_parquet(path) for path in log_files(folder))
        logged = logged.astype({c: str for c in ("request_id", "endpoint", "model_version", "role")})
        written[own_process] = logged.sort_values(["request_id", "row"]).reset_index(drop=True)
    assert len(written[True]) == 5
    pd.testing.assert_frame_equal(written[True], written[False])


def test_when_the_writer_process_dies_its_batch_is_counted_lost_and_the_thread_writes_on(tmp_path: Path) -> None:
    writer = PredictionLog(tmp_path, "orphan", flush_seconds=0.05, own_process=True)
    process, spool = writer._files._process, writer._files._spool
    process.kill()
    process.wait()
    writer.record(classified("lost", "3", "default", [[9.0, 1.0]]), 1)
    deadline = time.monotonic() + 10
    while not dropped("orphan") and time.monotonic() < deadline:
        time.sleep(0.02)
    writer.record(classified("kept", "3", "default", [[1.0, 2.0]]), 1)
    writer.close()
    written = pd.concat(pd.read_parquet(path) for path in log_files(tmp_path))
    assert written["request_id"].astype(str).tolist() == ["kept"]
    assert dropped("orphan") == 1 and not writer.disabled
    assert not spool.exists(), "the dead process's spool folder is removed"


def test_prune_removes_old_days_and_the_leftovers_of_killed_writers_and_keeps_the_rest(tmp_path: Path) -> None:
    import os

    from serving.monitoring import prune_log
    from serving.prediction_log import predictions_folder
    from tessera.workspace import init_workspace

    workspace = init_workspace(tmp_path / "ws")
    folder = predictions_folder(workspace.state_dir, "cheater-api")
    two_hours_ago = time.time() - 7200
    files = {
        "old": folder / "date=2020-01-01/part-1-a.parquet",
        "recent": folder / f"date={time.strftime('%Y-%m-%d', time.gmtime())}/part-2-b.parquet",
        "cut short": folder / f"date={time.strftime('%Y-%m-%d', time.gmtime())}/.part-3-c.parquet.tmp",
        "dead spool": folder / ".spool-dead/tmp1.batch",
        "live spool": folder / ".spool-live/tmp2.batch",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * 10)
    for name in ("cut short", "dead spool"):
        os.utime(files[name], (two_hours_ago, two_hours_ago))
    os.utime(files["dead spool"].parent, (two_hours_ago, two_hours_ago))

    assert prune_log(workspace, days=30) == (3, 30)
    assert {name for name, path in files.items() if path.exists()} == {"recent", "live spool"}
    assert not (folder / "date=2020-01-01").exists() and not (folder / ".spool-dead").exists()


def test_a_request_refused_after_widening_a_field_leaves_the_next_requests_aligned() -> None:
    from serving.prediction_log import LogShape

    shape = LogShape("1", "default", ("spend",), (), ("predictions", "scores"))
    shape.add("a", 1.0, 1.0, np.array([[1.0]]), {"predictions": np.array([3]), "scores": np.array([0.5])})
    with pytest.raises(ValueError):  # predictions widen to floats, then the scores are text: refused
        shape.add("b", 1.0, 1.0, np.array([[2.0]]), {"predictions": np.array([2.5]), "scores": np.array(["x"])})
    shape.add("c", 1.0, 1.0, np.array([[3.0]]), {"predictions": np.array([4]), "scores": np.array([0.25])})
    logged = shape.table("scores").to_pandas()
    assert logged["request_id"].astype(str).tolist() == ["a", "c"]
    assert logged["input:spend"].tolist() == [1.0, 3.0]
    assert logged["output:predictions"].tolist() == [3.0, 4.0] and logged["output:scores"].tolist() == [0.5, 0.25]
