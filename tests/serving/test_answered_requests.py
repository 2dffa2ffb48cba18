"""Answered requests as an endpoint hands them to its log (the bytes received and sent), decoded by the
writer: the rows it logs are the rows the endpoint decoded, the outputs those it answered, for every
protocol and encoding, a stranger's multiclass and regression models, values at the edges; and the
batch path for plain V1 requests equals decoding each request as the endpoint does."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from serving.answered_requests import AnsweredRequests, LogKind, answered_outputs
from serving.binary_tensors import encode_binary_response, read_binary_response
from serving.payloads import FeatureSchema, decoded_rows, parse_json
from serving.prediction_log import PredictionLog, log_files, request_id

CLASSES = ("cheater", "fair", "unsure")
MULTICLASS = LogKind("3", "default", CLASSES, FeatureSchema(("spend", "sessions"), ("double", "long")), True)
REGRESSION = LogKind(  # raw columns: a text column, so requests stay records
    "7", "canary", (), FeatureSchema(("country", "level"), ("string", "long")), False
)
PREFIX = "p" * 20


def v1(instances: list[Any]) -> bytes:
    return orjson.dumps({"instances": instances})


def answered(kinds: list[LogKind], records: list[tuple[Any, ...]]) -> AnsweredRequests:
    appended = [
        (kind, protocol, number, 100.0 + number, 0.0025, rows, body, body_header, answer, answer_header)
        for number, (kind, protocol, rows, body, body_header, answer, answer_header) in enumerate(records)
    ]
    return AnsweredRequests(kinds, PREFIX, appended, clock=1_700_000_000.0)


def binary_v2_request(rows: np.ndarray) -> tuple[bytes, int]:
    """A request as kserve's InferenceRESTClient sends it by default: the tensor's bytes after a JSON header."""
    header = orjson.dumps({"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP64",
                                       "parameters": {"binary_data_size": rows.nbytes}}]})  # fmt: skip
    return header + rows.astype("<f8").tobytes(), len(header)


def every_encoding() -> list[tuple[Any, ...]]:
    v2_answer = {"model_name": "m", "model_version": "3", "outputs": [
        {"name": "predictions", "shape": [1], "datatype": "BYTES", "data": ["unsure"]},
        {"name": "probabilities", "shape": [1, 3], "datatype": "FP32", "data": [0.25, 0.25, 0.5]},
    ]}  # fmt: skip
    binary_answer, binary_answer_header = encode_binary_response(orjson.loads(orjson.dumps(v2_answer)), {
        "predictions", "probabilities"})  # fmt: skip
    binary_body, binary_header = binary_v2_request(np.array([[4.5, 6.0]]))
    return [
        (0, "v1", 2, v1([[9.0, 1], [1.0, 4]]),
         -1, orjson.dumps({"predictions": ["cheater", "fair"], "probabilities": [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]]}), -1),
        (0, "v1", 1, v1([{"sessions": 2, "spend": 3.5}]),  # a record, keys in another order
         -1, orjson.dumps({"predictions": ["fair"], "probabilities": [[0.1, 0.8, 0.1]]}), -1),
        (0, "v2", 1, orjson.dumps({"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [7.0, 3]}],
                                   "outputs": [{"name": "predictions"}]}),  # only the predictions asked for
         -1, orjson.dumps({"outputs": [{"name": "predictions", "shape": [1], "datatype": "BYTES", "data": ["fair"]}]}), -1),
        (0, "v2", 1, binary_body, binary_header, binary_answer, binary_answer_header),
        (1, "v1", 2, v1([{"country": "BR", "level": None}, {"country": "unseen", "level": 40}]),
         -1, orjson.dumps({"predictions": [12.5, None]}), -1),  # a NaN answered as null
        (0, "v1", 1, b"{not json", -1, b"{}", -1),  # never sent by an endpoint: dropped, and only itself
        (1, "v2", 1, orjson.dumps({"inputs": [
            {"name": "country", "shape": [1], "datatype": "BYTES", "data": ["FR"]},
            {"name": "level", "shape": [1], "datatype": "INT64", "data": [3]}]}),
         -1, orjson.dumps({"outputs": [{"name": "predictions", "shape": [1], "datatype": "FP64", "data": [0.5]}]}), -1),
    ]  # fmt: skip


def written(folder: Path) -> pd.DataFrame:
    logged = pd.concat(pd.read_parquet(path) for path in log_files(folder))
    logged = logged.astype({c: str for c in ("request_id", "endpoint", "model_version", "role")})
    return logged.sort_values(["request_id", "row"]).reset_index(drop=True)


def test_every_protocol_and_encoding_is_logged_as_the_endpoint_decoded_and_answered_it(tmp_path: Path) -> None:
    frames = {}
    for own_process in (False, True):
        folder = tmp_path / f"own-process-{own_process}"
        log = PredictionLog(folder, "stranger", flush_seconds=60, own_process=own_process)
        for described in (MULTICLASS, REGRESSION):
            log.kind(described)
        for number, (kind, protocol, rows, body, body_header, answer, answer_header) in enumerate(every_encoding()):
            started = time.perf_counter()  # as the front door appends it
            log.waiting.append(
                (kind, protocol, number, started, 0.0025, rows, body, body_header, answer, answer_header)
            )
        log.close()
        frames[own_process] = written(folder)
    assert (frames[True]["time"] - pd.Timestamp.now(tz="UTC")).abs().max() < pd.Timedelta(minutes=1)
    assert set(frames[True]["latency_ms"]) == {2.5}
    pd.testing.assert_frame_equal(frames[True].drop(columns="time"), frames[False].drop(columns="time"))

    logged = frames[True].set_index(["request_id", "row"])
    ids = [request_id(number) for number in range(7)]  # the serving process's ids, as its x-request-id says
    assert ids[5] not in logged.index.get_level_values(0), "the record that does not decode is left out"
    assert len(logged) == 8 and set(logged["endpoint"]) == {"stranger"}

    def row(number: int, index: int = 0) -> pd.Series:
        return logged.loc[(ids[number], index)]

    assert [row(0, 0)["input:spend"], row(0, 1)["input:sessions"]] == [9.0, 4.0]
    assert row(0, 1)["output:predictions"] == "fair" and row(0, 1)["output:probabilities:fair"] == 0.8
    assert [row(1)["input:spend"], row(1)["input:sessions"]] == [3.5, 2.0], "a record is put in signature order"
    assert row(2)["output:predictions"] == "fair" and np.isnan(row(2)["output:probabilities:cheater"])
    assert [row(3)["input:spend"], row(3)["input:sessions"], row(3)["output:predictions"]] == [4.5, 6.0, "unsure"]
    assert row(3)["output:probabilities:unsure"] == 0.5, "binary FP32 outputs read back"
    assert (row(4, 0)["model_version"], row(4, 0)["role"]) == ("7", "canary")
    assert row(4, 0)["input:country"] == "BR" and pd.isna(row(4, 0)["input:level"])
    assert row(4, 1)["input:country"] == "unseen" and row(4, 1)["input:level"] == 40
    assert row(4, 0)["output:predictions"] == 12.5 and np.isnan(row(4, 1)["output:predictions"])
    assert row(6)["input:country"] == "FR" and row(6)["output:predictions"] == 0.5


def plain_v1_batch() -> list[tuple[Any, ...]]:
    """Plain V1 requests with values at the edges that an endpoint accepts: whole numbers past 2**53,
    booleans, the largest and smallest floats, negative zero; answers whose numbers widen (ints, then a
    float) and text labels."""
    edges = [
        [[2**53 + 1, True, 1.7976931348623157e308]],
        [[-0.0, False, 5e-324], [3, True, -2.5]],
        [[1, False, 0.1]],
    ]
    answers = [{"predictions": [1], "scores": ["a"]}, {"predictions": [2, 3], "scores": ["bb", "c"]},
               {"predictions": [0.5], "scores": ["d"]}]  # fmt: skip
    return [
        (0, "v1", len(rows), v1(rows), -1, orjson.dumps(answer), -1)
        for rows, answer in zip(edges, answers, strict=True)
    ]


EDGES = LogKind("1", "default", (), FeatureSchema(("n", "flag", "x"), ("long", "boolean", "double")), True)


def test_plain_v1_requests_decoded_at_once_equal_each_decoded_as_the_endpoint_does(monkeypatch) -> None:
    records = plain_v1_batch()
    for _, protocol, _, body, *_ in records:  # each one is a request the endpoint accepts
        decoded_rows(parse_json(body), protocol, EDGES.schema, True, 10)

    at_once = answered([EDGES], records)
    monkeypatch.setattr(AnsweredRequests, "_gather", lambda *a: pytest.fail("not decoded at once"))
    shapes, dropped = at_once.decoded()
    monkeypatch.undo()
    one_by_one = answered([EDGES], records)
    monkeypatch.setattr(AnsweredRequests, "_gather_plain_v1", lambda *a: False)
    expected, _ = one_by_one.decoded()

    assert dropped == 0 and len(shapes) == len(expected) == 1
    table, expected_table = shapes[0].table("e"), expected[0].table("e")
    assert table.equals(expected_table)
    assert table.column("input:n").to_pylist()[0] == float(2**53 + 1)
    assert table.column("output:predictions").to_pylist() == [1.0, 2.0, 3.0, 0.5]


def test_a_batch_decoded_a_part_at_a_time_is_the_batch_decoded_at_once(monkeypatch) -> None:
    import serving.answered_requests

    records = plain_v1_batch() * 3
    whole, _ = answered([EDGES], records).decoded()
    monkeypatch.setattr(serving.answered_requests, "DECODE_CHUNK_BYTES", 100)  # one or two requests a part
    parts, dropped = answered([EDGES], records).decoded()
    assert dropped == 0 and len(whole) == len(parts) == 1
    assert parts[0].table("e").equals(whole[0].table("e")) and parts[0].table("e").num_rows == 12


def test_a_records_request_among_plain_ones_is_decoded_as_the_endpoint_does() -> None:
    records = [*plain_v1_batch(), (0, "v1", 1, v1([{"x": 2.0, "flag": True, "n": 7}]), -1,
                                   orjson.dumps({"predictions": [1], "scores": ["e"]}), -1)]  # fmt: skip
    shapes, dropped = answered([EDGES], records).decoded()
    logged = shapes[0].table("e").to_pandas()
    assert dropped == 0 and len(logged) == 5
    assert logged.iloc[-1][["input:n", "input:flag", "input:x"]].tolist() == [7.0, 1.0, 2.0]


def test_binary_answers_read_back_as_their_json_form() -> None:
    answer = {"model_name": "m", "outputs": [
        {"name": "labels", "shape": [2], "datatype": "BYTES", "data": ["fair", "çheater"]},
        {"name": "scores", "shape": [2, 2], "datatype": "FP32", "data": [0.5, 0.25, 0.125, 1.0]},
        {"name": "kept", "shape": [1], "datatype": "INT64", "data": [3]},
    ]}  # fmt: skip
    content, header = encode_binary_response(orjson.loads(orjson.dumps(answer)), {"labels", "scores"})
    assert read_binary_response(content, header)["outputs"] == [
        {"name": "labels", "shape": [2], "datatype": "BYTES", "data": ["fair", "çheater"],
         "parameters": {"binary_data_size": 20}},
        {"name": "scores", "shape": [2, 2], "datatype": "FP32", "data": [0.5, 0.25, 0.125, 1.0],
         "parameters": {"binary_data_size": 16}},
        answer["outputs"][2],
    ]  # fmt: skip
    outputs = answered_outputs("v2", content, header)
    assert outputs["scores"].dtype == np.float32 and outputs["scores"].shape == (2, 2)
    assert outputs["labels"].tolist() == ["fair", "çheater"]


def test_requests_appended_while_the_writer_takes_them_are_all_logged(tmp_path: Path) -> None:
    """The request path appends while the writer thread pops: nothing is lost between the two."""
    log = PredictionLog(tmp_path, "busy", flush_seconds=0.005)
    kind = log.kind(EDGES)
    body, answer = v1([[1, True, 0.5]]), orjson.dumps({"predictions": [1]})

    def serve(first: int) -> None:
        for number in range(first, first + 3000):
            log.waiting.append((kind, "v1", number, time.perf_counter(), 0.001, 1, body, -1, answer, -1))

    threads = [threading.Thread(target=serve, args=(first,)) for first in (0, 3000)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    logged = written(tmp_path)
    assert sorted(logged["request_id"]) == sorted(request_id(number) for number in range(6000))


def test_a_full_log_declines_and_counts_a_sampled_one_draws_and_a_large_request_leaves_room_for_small_ones(
    tmp_path: Path,
) -> None:
    from prometheus_client import REGISTRY

    def dropped(endpoint: str) -> float:
        return REGISTRY.get_sample_value("tessera_prediction_log_dropped_rows_total", {"endpoint": endpoint}) or 0.0

    log = PredictionLog(tmp_path / "full", "full", max_queue=2, max_queue_bytes=100_000, flush_seconds=60)
    kind = log.kind(EDGES)

    def waits(body_bytes: int, requests: int = 1) -> None:
        for _ in range(requests):
            log.waiting.append((kind, "v1", 0, time.perf_counter(), 0.001, 3, b"x" * body_bytes, -1, b"y" * 100, -1))

    waits(900, 2)
    assert log.declined(3, 900) and dropped("full") == 3, "no room: not logged, counted as dropped"
    log._drain()  # the writer takes them: room for max_queue requests, half of max_queue_bytes of the common size
    assert log.room == 2 and not log.declined(3, 900)
    log.max_queue = 1000
    waits(900)
    log._drain()
    assert (log.largest, log.room) == (4096, 12), "small requests count as 4 KiB: 50,000 bytes hold 12"

    before = dropped("full")  # the bodies above are no requests: the writer counted them dropped too
    assert not log.declined(3, 20_000) and not log.declined(3, 20_000), "large requests: by their bytes"
    assert log.declined(3, 20_000) and dropped("full") == before + 3, "50,000 bytes of large requests at most"
    assert log.room == 12 and not log.declined(3, 900), "the small requests keep their room"

    waits(20_000)
    waits(900, 99)
    log._drain()
    assert (log.largest, log.room, log.oversize) == (4096, 12, 0), "1 large request in 100: still by its bytes"
    waits(20_000, 2)
    waits(900, 8)
    log._drain()
    assert (log.largest, log.room) == (20_100, 2), "2 in 10: the common size"
    log.close()

    sampled = PredictionLog(tmp_path / "sampled", "sampled", sample_rate=0.25, flush_seconds=60)
    kept = sum(not sampled.declined(1, 10) for _ in range(4000))
    sampled.close()
    assert 800 < kept < 1200 and dropped("sampled") == 0, "not drawn is not dropped"


def test_the_id_the_request_path_sends_is_the_id_the_writer_logs() -> None:
    from serving.prediction_log import REQUEST_ID

    for number in (0, 1, 2**40 + 7):
        assert (REQUEST_ID % number).decode() == request_id(number)
