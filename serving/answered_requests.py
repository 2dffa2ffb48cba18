"""Answered requests as an endpoint hands them to its prediction log: the bytes it received and sent.

After its answer is sent, a logging endpoint's request path appends one tuple to a deque
(`PredictionLog.waiting`): which served version answered, the request's number, time, latency and rows,
the request body and the response body as they went over the wire, in `Record`'s field order. Everything
else happens in the log's writer, away from the requests: the writer thread takes the tuples as they are
and pickles them to the writer process (serving/log_writer.py), which decodes each request into rows with
the very functions the endpoint used (serving/payloads.py), reads the outputs back from the answer, and
gathers both into `LogShape`s for `LogFiles`.

Why a tuple and a deque: the request path then runs no Python function of the log at all (building a
tuple and one call into C). In a server busy with a model every line of the request path runs with cold
caches: calling into the log to pack a record header and copy both bodies into one buffer added about
9 µs to a single-row request and 8–46 µs to a 100-row one, the tuple about 7 µs and a few
(benchmarks/log_request_path.py, docs/benchmarks.md). The writer thread's work per request is a popleft
and the pickler's, both in C.

What is logged is what the caller was answered: a V2 request that names some of the outputs has those
logged; outputs come back as the answer carried them (JSON numbers as float64 or int64, V2 tensors in
their datatype).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np
import orjson

from serving.binary_tensors import DTYPES, read_binary_request, read_binary_response
from serving.payloads import FeatureSchema, decoded_rows, parse_json
from serving.prediction_log import LogShape, request_id

log = logging.getLogger("tessera.prediction_log")

NO_ROW_LIMIT = 2**62  # the endpoint checked the batch size before answering
DECODE_CHUNK_BYTES = 8 * 1024**2  # of request bodies decoded at once (see `_chunks`)


class LogKind(NamedTuple):
    """What decoding a served version's requests takes, and the log columns it shares."""

    model_version: str
    role: str  # default or canary
    classes: tuple[Any, ...]
    schema: FeatureSchema | None
    takes_matrix: bool


class Record(NamedTuple):
    """One answered request, as the request path appends it (a plain tuple there, in this order)."""

    kind: int  # its served version's number in `AnsweredRequests.kinds`
    protocol: str  # v1 or v2
    number: int  # of its request id (`request_id`)
    started: float  # time.perf_counter() when the request came in (`AnsweredRequests.clock` makes it Unix time)
    seconds: float  # until the model had answered: the log's latency
    rows: int
    body: bytes
    body_header: int  # the length of its JSON header when the body is binary (V2); -1: all JSON
    answer: bytes
    answer_header: int  # as body_header, for the answer


class AnsweredRequests:
    """Records of answered requests, as the request path appended them, for the writer to decode."""

    def __init__(self, kinds: list[LogKind], request_prefix: str, records: list[tuple[Any, ...]], clock: float):
        self.kinds = kinds  # the kinds the records' kind numbers point into
        self.request_prefix = request_prefix  # a request's id: this prefix, then its number in hex
        self.answered = records  # tuples in `Record`'s field order
        self.clock = clock  # Unix time at perf_counter() 0 in the serving process: time.time() - perf_counter()

    @property
    def requests(self) -> int:
        return len(self.answered)

    @property
    def rows(self) -> int:
        return sum(record[5] for record in self.answered)

    def records(self) -> Iterator[Record]:
        """The records, in the order the requests were answered."""
        return map(Record._make, self.answered)

    def decoded(self) -> tuple[list[LogShape], int]:
        """The records as the request path would have gathered them, by kind and outputs answered; and the
        rows of records that did not decode (counted as dropped; they never should)."""
        shapes: dict[tuple[int, tuple[str, ...]], LogShape] = {}
        dropped = 0
        runs = itertools.groupby(self.records(), _encoding)
        for (kind, protocol, binary), records in ((key, chunk) for key, run in runs for chunk in _chunks(run)):
            if (
                protocol == "v1"
                and not binary
                and self.kinds[kind].takes_matrix
                and self._gather_plain_v1(shapes, records)
            ):
                continue
            for record in records:
                try:
                    self._gather(shapes, record)
                except Exception:  # a record that does not decode loses itself, never the batch
                    log.exception(
                        "prediction log: an answered request could not be decoded; %d rows not logged", record.rows
                    )
                    dropped += record.rows
        return [shape for shape in shapes.values() if shape.request_ids], dropped

    def _gather(self, shapes: dict[tuple[int, tuple[str, ...]], LogShape], record: Record) -> None:
        described = self.kinds[record.kind]
        body, body_header = record.body, record.body_header
        request = read_binary_request(body, str(body_header)) if body_header >= 0 else parse_json(body)
        protocol = record.protocol
        rows, columns = decoded_rows(request, protocol, described.schema, described.takes_matrix, NO_ROW_LIMIT)
        outputs = answered_outputs(protocol, record.answer, record.answer_header)
        shape = self._shape(shapes, record.kind, columns, tuple(outputs))
        at, latency_ms = record.started + self.clock, record.seconds * 1000
        shape.add(request_id(record.number, self.request_prefix), at, latency_ms, rows, outputs)

    def _gather_plain_v1(self, shapes: dict[tuple[int, tuple[str, ...]], LogShape], records: list[Record]) -> bool:
        """Many V1 requests of a float-matrix kind at once, when every one is `{"instances": [[...], ...]}` and
        its answer names the same outputs: one JSON parse and one float conversion for all of them, the
        conversion `decode_v1` makes of each (tests/serving/test_prediction_log.py holds them equal).
        False, having gathered nothing, for anything else."""
        try:
            requests = orjson.loads(b"[" + b",".join(r.body for r in records) + b"]")
            if not all(len(request) == 1 and type(request["instances"][0]) is list for request in requests):
                return False  # records, "columns", or another field: each is decoded as the endpoint did
            answers = orjson.loads(b"[" + b",".join(r.answer for r in records) + b"]")
            names = tuple(answers[0])
            if not all(tuple(answer) == names for answer in answers):
                return False
            rows = np.array([row for request in requests for row in request["instances"]], dtype=np.float64)
            outputs = {name: _array([value for answer in answers for value in answer[name]]) for name in names}
            schema = self.kinds[records[0].kind].schema
            assert schema is not None and rows.shape == (sum(r.rows for r in records), schema.width)
            shape = self._shape(shapes, records[0].kind, schema.columns, names)
            shape.add_many(
                [request_id(r.number, self.request_prefix) for r in records], [r.started + self.clock for r in records],
                [r.seconds * 1000 for r in records], [r.rows for r in records], rows, outputs,
            )  # fmt: skip
        except Exception:  # anything unexpected (a record that does not decode): one by one, to lose only it
            return False
        return True

    def _shape(
        self, shapes: dict[tuple[int, tuple[str, ...]], LogShape], kind: int, columns: tuple[str, ...] | None,
        outputs: tuple[str, ...],
    ) -> LogShape:  # fmt: skip
        shape = shapes.get((kind, outputs))
        if shape is None:
            described = self.kinds[kind]
            shape = shapes[(kind, outputs)] = LogShape(
                described.model_version, described.role, columns, described.classes, outputs
            )
        return shape


def _chunks(records: Iterable[Record]) -> Iterator[list[Record]]:
    """The records in lists of about DECODE_CHUNK_BYTES of bodies: decoding them at once makes Python
    objects of every value, so a batch of large requests is decoded a part at a time."""
    chunk: list[Record] = []
    size = 0
    for record in records:
        chunk.append(record)
        size += len(record.body)
        if size >= DECODE_CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _encoding(record: Record) -> tuple[int, str, bool]:
    return record.kind, record.protocol, record.body_header >= 0 or record.answer_header >= 0


def answered_outputs(protocol: str, answer: bytes, header_length: int = -1) -> dict[str, np.ndarray]:
    """The outputs an answer carried, by name: V1 `{name: values}`, V2 `outputs` tensors (JSON or binary)."""
    if protocol == "v1":
        return {name: _array(values) for name, values in orjson.loads(answer).items()}
    answered = read_binary_response(answer, header_length) if header_length >= 0 else orjson.loads(answer)
    return {
        tensor["name"]: _array(tensor["data"], DTYPES.get(tensor["datatype"])).reshape(tensor["shape"])
        for tensor in answered["outputs"]
    }


def _array(values: list[Any], dtype: str | None = None) -> np.ndarray:
    """Values as an array; JSON's null among numbers (a NaN answered) as NaN."""
    array = np.asarray(values, dtype=dtype)
    if array.dtype == object:
        try:
            return array.astype("float64")
        except (TypeError, ValueError):  # text beside the nulls: kept as it is
            return array
    return array
