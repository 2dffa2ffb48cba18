"""The prediction log: every answered request's inputs and outputs, as Parquet under the workspace.

    .tessera/predictions/<endpoint>/date=YYYY-MM-DD/part-<unix ms>-<random>.parquet

A log folder is a local path or an fsspec URL (`s3://bucket/predictions/<endpoint>`: where the cluster's
log receiver, serving/log_receiver.py, writes). One row per scored row, shaped like KServe's logger
CloudEvents (a request id shared by the request's rows, endpoint, model version, `default` or `canary`,
time, the request's latency) with the inputs as `input:<column>` and the outputs as `output:<name>` (a
class probability as `output:probabilities:<class>`).

An endpoint's request path only appends the bytes it received and sent, as one tuple, to the log's
`waiting` deque (serving/answered_requests.py), after its answer was sent and while there is `room`;
the log receiver and tests hand over decoded requests instead, gathered by shape (`LogShape`). Every
`flush_seconds` a writer thread takes what was gathered and hands it to `LogFiles`, which decodes the
answered requests, converts everything to Arrow and writes one file: in a process of its own for an
endpoint (serving/log_writer.py), so that work never holds the serving process's interpreter lock, or
in the thread itself. A file is written under a dot-name and renamed into place, so a reader never sees
half a file, even after kill -9. A full queue drops the record, a failed write (a full disk) turns
logging off; both are counted on `/metrics` and never fail a request.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import pickle
import random
import threading
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from prometheus_client import Counter, Gauge

if TYPE_CHECKING:
    from serving.answered_requests import AnsweredRequests, LogKind
    from serving.log_writer import WriterProcess

log = logging.getLogger("tessera.prediction_log")

LOGGED = Counter("tessera_prediction_log_rows", "Scored rows written to the prediction log", ["endpoint"])
DROPPED = Counter(
    "tessera_prediction_log_dropped_rows", "Scored rows not logged: queue full, size cap or logging off", ["endpoint"]
)
DISABLED = Gauge(
    "tessera_prediction_log_disabled", "1 once a failed write (e.g. a full disk) turned logging off", ["endpoint"]
)

FILE_GLOB = "date=*/part-*.parquet"
SMALL_REQUEST_BYTES = 4096  # the least `PredictionLog.largest` counts a request as
DEFAULT_MAX_BYTES = 2 * 1024**3
LogFolder = Path | str  # a local folder, or an fsspec URL of one


class LoggedRequest(NamedTuple):
    """One answered request, as the request path hands it over (nothing converted yet; a tuple, the
    cheapest value to build on the request path)."""

    request_id: str
    model_version: str
    role: str  # default or canary
    at: float
    rows: Any  # a list of records (dicts), or a float matrix whose columns are `columns`
    columns: tuple[str, ...] | None
    outputs: dict[str, np.ndarray]
    classes: tuple[Any, ...] = ()
    latency_ms: float = float("nan")  # reading and scoring the request (not known for the cluster's logger)


def predictions_folder(state_dir: Path, endpoint: str) -> Path:
    return state_dir / "predictions" / endpoint


def is_url(folder: LogFolder) -> bool:
    return isinstance(folder, str) and "://" in folder


def log_files(folder: LogFolder) -> list[str]:
    """The log's Parquet files, oldest day first (a URL's as URLs)."""
    if not is_url(folder):
        return [str(p) for p in sorted(Path(folder).glob(FILE_GLOB))]
    import fsspec

    filesystem, root = fsspec.core.url_to_fs(str(folder))
    filesystem.invalidate_cache()  # a listing cached by an earlier call would miss files written since
    protocol = str(folder).split("://", 1)[0]
    return [f"{protocol}://{path}" for path in sorted(filesystem.glob(f"{root.rstrip('/')}/{FILE_GLOB}"))]


def open_log_file(path: str) -> Any:
    """A readable binary handle on one log file (local or a URL)."""
    import fsspec

    return fsspec.open(path, "rb").open() if "://" in path else open(path, "rb")  # noqa: SIM115 (caller closes)


class Gathered:
    """One array-valued field of many requests, gathered for a file (by the writer, or the log receiver).

    Numbers are copied into one growing byte buffer: nothing is kept alive per request, and the writer reads
    the buffer as one array without a step per request. Anything else (text labels) is kept as the arrays
    themselves. The first values gathered fix the shape of a row and whether the field holds numbers; numbers
    of another dtype widen the field (ints, then a float), and values that do not fit are refused with
    ValueError before anything is kept.
    """

    def __init__(self, row_shape: tuple[int, ...] | None = None):
        self.row_shape = row_shape  # each value's shape but its first axis (its rows)
        self.dtype: np.dtype[Any] | None = None
        self.numeric = False
        self.numbers = bytearray()
        self.arrays: list[np.ndarray] = []
        self.put: Any = None  # numbers.extend or arrays.append, once the first values fixed the dtype

    def checked(self, values: Any) -> np.ndarray:
        """The values as they will be gathered (C order); raises ValueError where they do not fit."""
        if not isinstance(values, np.ndarray) or values.ndim == 0:
            raise ValueError("values must be an array of rows")
        if self.row_shape is not None and values.shape[1:] != self.row_shape:
            raise ValueError(f"rows of shape {values.shape[1:]} where {self.row_shape} was gathered")
        if self.numeric and values.dtype != self.dtype:
            if values.dtype.kind not in NUMBER_KINDS:
                raise ValueError(f"{values.dtype} values where {self.dtype} numbers were gathered")
            self._widen(np.result_type(self.dtype, values.dtype))  # as np.concatenate would: ints, then a float
            values = values.astype(self.dtype)
        return values if values.flags.c_contiguous else np.ascontiguousarray(values)

    def _widen(self, dtype: np.dtype[Any]) -> None:
        """The numbers gathered so far, as `dtype` (wide enough for them and what comes)."""
        if dtype != self.dtype:
            self.numbers = bytearray(np.frombuffer(self.numbers, self.dtype).astype(dtype).tobytes())
            self.dtype, self.put = dtype, self.numbers.extend

    def append(self, values: np.ndarray) -> None:
        """Values that were `checked`."""
        if self.put is None:
            self.dtype, self.row_shape = values.dtype, values.shape[1:]
            self.numeric = values.dtype.kind in NUMBER_KINDS
            self.put = self.numbers.extend if self.numeric else self.arrays.append  # extend: one copy of a buffer
        self.put(values)

    def __getstate__(self) -> dict[str, Any]:  # to the writer process: arrays as one, no bound method
        state = self.__dict__ | {"put": None, "numbers": pickle.PickleBuffer(self.numbers)}  # out of band, if taken
        if len(self.arrays) > 1:
            state["arrays"] = [np.concatenate(self.arrays)]
        return state

    def array(self) -> np.ndarray:
        """Everything gathered, rows first."""
        assert self.dtype is not None and self.row_shape is not None
        if not self.numeric:
            return np.concatenate(self.arrays)
        return np.frombuffer(self.numbers, self.dtype).reshape(-1, *self.row_shape)


NUMBER_KINDS = "biufc"


class LogShape:
    """The requests of one shape (model version, role, input columns, classes, output names) gathered for
    the writer: their ids, times, latencies and row counts in lists, their input matrices and outputs in
    `Gathered` buffers (records, for raw-column endpoints, as the caller sent them)."""

    def __init__(
        self, model_version: str, role: str, columns: tuple[str, ...] | None, classes: tuple[Any, ...],
        outputs: tuple[str, ...],
    ):  # fmt: skip
        self.model_version, self.role, self.columns, self.classes, self.outputs = (
            model_version, role, columns, classes, outputs
        )  # fmt: skip
        self._start()

    def _start(self) -> None:
        self.request_ids: list[str] = []
        self.at: list[float] = []
        self.latency_ms: list[float] = []
        self.counts: list[int] = []  # rows of each request
        self.matrix = Gathered((len(self.columns),)) if self.columns is not None else None
        self.records: list[Any] = []  # each request's records, where there are no columns
        self.values = [Gathered() for _ in self.outputs]
        self._fields = [self.matrix, *self.values] if self.matrix is not None else self.values

    @property
    def rows(self) -> int:
        return sum(self.counts)

    def __getstate__(self) -> dict[str, Any]:  # to the writer process: values only
        return {k: v for k, v in self.__dict__.items() if k != "_fields"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def add(self, request_id: str, at: float, latency_ms: float, rows: Any, outputs: dict[str, np.ndarray]) -> None:
        """Raises KeyError (an output of this shape is missing) or ValueError (values that do not fit what
        was gathered), having kept nothing."""
        self._put(rows, outputs)
        self.request_ids.append(request_id)
        self.at.append(at)
        self.latency_ms.append(latency_ms)
        self.counts.append(len(rows))
        if self.matrix is None:
            self.records.append(rows)

    def add_many(
        self, request_ids: list[str], at: list[float], latency_ms: list[float], counts: list[int], rows: np.ndarray,
        outputs: dict[str, np.ndarray],
    ) -> None:  # fmt: skip
        """`add` for many requests of a matrix shape at once: their rows and outputs stacked, `counts` rows each."""
        assert self.matrix is not None and sum(counts) == len(rows)
        self._put(rows, outputs)
        self.request_ids += request_ids
        self.at += at
        self.latency_ms += latency_ms
        self.counts += counts

    def _put(self, rows: Any, outputs: dict[str, np.ndarray]) -> None:
        answered = [outputs[name] for name in self.outputs]  # by name: a model may answer in another order
        arrays = [rows, *answered] if self.matrix is not None else answered
        checked = [kept.checked(values) for kept, values in zip(self._fields, arrays, strict=True)]  # all, first
        for kept, values in zip(self._fields, checked, strict=True):
            kept.append(values)

    def take(self) -> LogShape | None:
        """What was gathered, as a shape of its own (None when nothing was); this one starts afresh."""
        if not self.request_ids:
            return None
        taken = LogShape(self.model_version, self.role, self.columns, self.classes, self.outputs)
        taken.request_ids, taken.at, taken.latency_ms, taken.counts, taken.matrix, taken.records, taken.values = (
            self.request_ids, self.at, self.latency_ms, self.counts, self.matrix, self.records, self.values
        )  # fmt: skip
        self._start()
        return taken

    def table(self, endpoint: str) -> Any:
        """The gathered requests' log rows (one per scored row) as an Arrow table, built column by column."""
        import pyarrow as pa

        frame = _RequestFrame(np.asarray(self.counts, dtype="int64"))
        columns = frame.columns(endpoint, self.request_ids, self.model_version, self.role, self.at, self.latency_ms)
        if self.matrix is not None and self.columns is not None:  # float matrices in signature order
            # Column-major: every column is then one contiguous run that Arrow takes without copying.
            by_column = np.ascontiguousarray(self.matrix.array().T)
            for index, name in enumerate(self.columns):
                columns[f"input:{name}"] = pa.array(by_column[index])
        else:  # records, as the caller sent them
            keys = list(dict.fromkeys(key for request in self.records for record in request[:1] for key in record))
            for key in keys:
                values = [record.get(key) for request in self.records for record in request]
                columns[f"input:{key}"] = _arrow_column(values)
        for name, gathered in zip(self.outputs, self.values, strict=True):
            _add_output(columns, name, gathered.array(), self.classes)
        return pa.table(columns)


class Written(NamedTuple):
    """What became of a batch of gathered requests, in scored rows."""

    logged: int
    dropped: int


class LogFiles:
    """Where batches of gathered requests become Parquet files: the conversion, the size cap, and turning
    logging off once a write fails. Works in the writer thread, or in a process of its own
    (serving/log_writer.py), with the same results."""

    def __init__(self, folder: LogFolder, endpoint: str, max_bytes: int = DEFAULT_MAX_BYTES):
        self.folder, self.endpoint, self.max_bytes = folder, endpoint, max_bytes
        self.disabled = False
        self.bytes = 0 if is_url(folder) else sum(p.stat().st_size for p in Path(folder).glob(FILE_GLOB))

    def write(self, batch: list[LogShape | AnsweredRequests]) -> Written:
        logged = dropped = 0
        shapes: list[LogShape] = []
        for piece in batch:
            if isinstance(piece, LogShape):
                shapes.append(piece)
            else:  # answered requests, decoded here: in the writer process, for an endpoint
                decoded, undecoded = piece.decoded()
                shapes += decoded
                dropped += undecoded
        file: list[Any] = []
        tabled = 0  # rows of the tables made: each one logged, or dropped by the size cap or a failed write
        for shape in shapes:
            try:
                table = shape.table(self.endpoint)
            except (ValueError, TypeError):  # rows that do not fit their columns: not worth losing the rest
                log.warning("prediction log of %s: requests of an unexpected shape not logged", self.endpoint)
                dropped += shape.rows
                continue
            except Exception:  # anything else: counted and told, and the writer lives on for the next batch
                log.exception("prediction log of %s: a batch could not be converted", self.endpoint)
                dropped += shape.rows
                continue
            if file and sum(t.num_rows for t in file) + table.num_rows > FILE_ROWS:
                logged += self._flush(file)
                file = []
            file.append(table)
            tabled += table.num_rows
        logged += self._flush(file)
        return Written(logged, dropped + tabled - logged)

    def close(self) -> None:
        pass

    def _flush(self, tables: list[Any]) -> int:
        """Rows written (none, under the size cap or once logging is off)."""
        if not tables or self.disabled or self.bytes >= self.max_bytes:
            return 0
        try:
            self.bytes += sum(write_log_file(self.folder, table) for table in _joined(tables))
        except Exception:  # a full disk, a read-only folder: stop logging, keep serving
            log.exception("prediction log of %s turned off: writing failed", self.endpoint)
            self.disabled = True
            return 0
        return sum(table.num_rows for table in tables)


class PredictionLog:
    """The writer of one endpoint's prediction log (see the module docstring).

    With `own_process`, the batches are converted and written by a process of its own: converting in a
    thread of the serving process holds the interpreter lock, and every request waits for it meanwhile
    (half of what logging cost single-row requests). Should that process die, the writer thread takes
    over."""

    def __init__(
        self, folder: LogFolder, endpoint: str, sample_rate: float = 1.0, max_queue: int = 50_000,
        flush_seconds: float = 2.0, max_bytes: int = DEFAULT_MAX_BYTES, own_process: bool = False,
        max_queue_bytes: int = 256 * 1024**2,
    ):  # fmt: skip
        self.folder = folder
        self.endpoint = endpoint
        self.sample_rate = sample_rate
        self.flush_seconds = flush_seconds
        self.max_bytes = max_bytes
        self.max_queue = max_queue  # requests waiting for the writer
        self.max_queue_bytes = max_queue_bytes  # bytes of answered requests waiting for the writer (about)
        # The request path's hand-over: answered requests in `Record`'s field order, appended by the request
        # path (serving/front_door.py) and popped by the writer thread. Half of max_queue_bytes bounds the
        # requests of the common size by their count: `room` requests of at most `largest` bytes of body (the
        # 99th percentile of the last batch, 4 KiB at least; room is 0 once logging is off). The other half
        # bounds larger requests by their bytes: such a request calls `declined`, which counts it in
        # `oversize` (what waits stays about max_queue_bytes, whatever the mix of request sizes).
        self.waiting: collections.deque[tuple[Any, ...]] = collections.deque()
        self.largest = SMALL_REQUEST_BYTES
        self.room = min(max_queue, max_queue_bytes // 2 // self.largest)
        self.oversize = 0  # bytes of requests over `largest` taken in since the writer last took a batch
        # Held to add one decoded request, or for the writer to take everything gathered: never while
        # converting, so a request never waits for a write, and the writer wakes every flush_seconds.
        self._lock = threading.Lock()
        self._shapes: dict[tuple[Any, ...], LogShape] = {}
        self._kinds: list[LogKind] = []
        self._queued = 0
        self._stop = threading.Event()
        self._logged, self._dropped = LOGGED.labels(endpoint), DROPPED.labels(endpoint)
        self._disabled_gauge = DISABLED.labels(endpoint)
        self.disabled = False  # once a failed write turned logging off (the writer's, copied for the request path)
        self._files: LogFiles | WriterProcess
        if own_process:
            from serving.log_writer import WriterProcess

            self._files = WriterProcess(folder, endpoint, max_bytes)
        else:
            self._files = LogFiles(folder, endpoint, max_bytes)
        self._thread = threading.Thread(target=self._write_loop, name=f"prediction-log-{endpoint}", daemon=True)
        self._thread.start()

    def shape(
        self, model_version: str, role: str, columns: tuple[str, ...] | None, classes: tuple[Any, ...],
        outputs: tuple[str, ...],
    ) -> LogShape:  # fmt: skip
        """The gathering place of requests of this shape (a caller may keep it: the same one each time)."""
        key = (model_version, role, columns, classes, outputs)
        with self._lock:
            found = self._shapes.get(key)
            if found is None:
                found = self._shapes[key] = LogShape(*key)
            return found

    def add(
        self, shape: LogShape, request_id: str, at: float, latency_ms: float, rows: Any,
        outputs: dict[str, np.ndarray],
    ) -> None:  # fmt: skip
        """Hand an answered request over; never blocks on the writer and never raises."""
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:  # noqa: S311 (sampling, not a secret)
            return
        if self.disabled or self._queued >= self.max_queue:
            self._dropped.inc(len(rows))
            return
        with self._lock:
            try:
                shape.add(request_id, at, latency_ms, rows, outputs)
            except (KeyError, ValueError):  # outputs named otherwise, values that do not fit the shape's
                self._dropped.inc(len(rows))
                return
            self._queued += 1

    def kind(self, described: LogKind) -> int:
        """The number a `waiting` record gives for requests a served version answered (the same one each time)."""
        with self._lock:
            if described not in self._kinds:
                self._kinds.append(described)
            return self._kinds.index(described)

    def declined(self, rows: int, size: int) -> bool:
        """For the request path, where logging is sampled, `waiting` has no room or the request (`size` bytes of
        body) is larger than `largest`: True where it is not to be logged (not drawn in the sample; or no
        room, counted as dropped)."""
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:  # noqa: S311 (sampling, not a secret)
            return True
        large = size > self.largest
        if len(self.waiting) >= self.room or (large and self.oversize + size > self.max_queue_bytes // 2):
            self._dropped.inc(rows)
            return True
        if large:
            self.oversize += size
        return False

    def record(self, entry: LoggedRequest, rows: int) -> None:
        """`add` for a request handed over whole."""
        shape = self.shape(entry.model_version, entry.role, entry.columns, entry.classes, tuple(entry.outputs))
        self.add(shape, entry.request_id, entry.at, entry.latency_ms, entry.rows, entry.outputs)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        self._stop.set()
        self._thread.join(timeout)
        self._files.close()

    def _write_loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        from serving.answered_requests import AnsweredRequests

        waiting = self.waiting
        answered = [waiting.popleft() for _ in range(len(waiting))]  # the request path appends meanwhile
        with self._lock:
            taken: list[LogShape | AnsweredRequests] = [
                t for shape in self._shapes.values() if (t := shape.take()) is not None
            ]
            self._queued = 0
        if answered:
            clock = time.time() - time.perf_counter()
            taken.append(AnsweredRequests(self._kinds, REQUEST_PREFIX, answered, clock))  # kinds: only ever appended to
            self.oversize = 0  # those were taken (one appended meanwhile goes uncounted: the bound is about)
            if not self.disabled:
                sizes = sorted(len(record[6]) + len(record[8]) for record in answered)
                largest = max(SMALL_REQUEST_BYTES, sizes[(len(sizes) - 1) * 99 // 100])
                self.largest, self.room = largest, min(self.max_queue, self.max_queue_bytes // 2 // largest)
        if not taken:
            return
        try:
            written = self._files.write(taken)
        except WriterGone as gone:  # the writer process died: this batch is lost, the thread writes on
            log.warning("prediction log of %s: %s; writing in the serving process from now on", self.endpoint, gone)
            self._files.close()
            self._files = LogFiles(self.folder, self.endpoint, self.max_bytes)
            written = Written(0, sum(piece.rows for piece in taken))
        self._logged.inc(written.logged)
        self._dropped.inc(written.dropped)
        if self._files.disabled:
            self.disabled = True
            self.room = 0
            self._disabled_gauge.set(1)


class WriterGone(Exception):
    """The writer process is no longer there to answer."""


FILE_ROWS = 1_000_000  # rows of one log file at most (a table of one shape is never split)


def to_table(endpoint: str, entries: list[LoggedRequest]) -> Any:
    """The log rows of some requests (one row per scored row) as one Arrow table, as the writer builds it."""
    shapes: dict[tuple[Any, ...], LogShape] = {}
    for entry in entries:
        key = (entry.model_version, entry.role, entry.columns, entry.classes, tuple(entry.outputs))
        shape = shapes.get(key) or shapes.setdefault(key, LogShape(*key))
        shape.add(entry.request_id, entry.at, entry.latency_ms, entry.rows, entry.outputs)
    return concat_tables([shape.table(endpoint) for shape in shapes.values()])


def _joined(tables: list[Any]) -> list[Any]:
    """The tables as one, or as they are where their columns' types disagree (a canary whose model answers
    text where the default answers numbers): one file each, rather than none."""
    import pyarrow as pa

    try:
        return [concat_tables(tables)]
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return tables


def concat_tables(tables: list[Any]) -> Any:
    import pyarrow as pa

    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


class _RequestFrame:
    """What every log row repeats from its request: id, row number, endpoint, version, role, time, latency."""

    def __init__(self, counts: np.ndarray):
        self.counts = counts
        self.single = bool((counts == 1).all())  # one row per request: nothing to repeat
        self.total = int(counts.sum())

    def per_row(self, values: Any, dtype: str) -> Any:
        import pyarrow as pa

        values = np.asarray(values, dtype=dtype)
        return pa.array(values if self.single else np.repeat(values, self.counts))

    def text(self, values: list[str]) -> Any:
        """Text repeated for each row of its request, as a dictionary column: one string per request, not
        per row (repeating Python strings a hundred times was most of a batch's cost)."""
        import pyarrow as pa

        texts = pa.array(values, pa.string())
        if self.single:
            return texts.dictionary_encode()
        owner = pa.array(np.repeat(np.arange(len(values), dtype="int32"), self.counts))
        return pa.DictionaryArray.from_arrays(owner, texts)

    def constant(self, value: str) -> Any:
        import pyarrow as pa

        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(self.total, "int32")), pa.array([value]))

    def columns(
        self, endpoint: str, request_ids: list[str], version: str, role: str, at: Sequence[float],
        latency_ms: Sequence[float],
    ) -> dict[str, Any]:  # fmt: skip
        import pyarrow as pa

        if self.single:
            rows = np.zeros(self.total, "int64")
        else:  # each row's place in its request
            starts = np.repeat(np.cumsum(self.counts) - self.counts, self.counts)
            rows = np.arange(self.total, dtype="int64") - starts
        micros = (self.per_row(at, "float64").to_numpy() * 1e6).astype("int64")
        return {
            "request_id": self.text(request_ids),
            "row": pa.array(rows),
            "endpoint": self.constant(endpoint),
            "model_version": self.constant(version),
            "role": self.constant(role),
            "time": pa.array(micros, pa.timestamp("us", "UTC")),
            "latency_ms": self.per_row(latency_ms, "float64"),
        }


def _add_output(columns: dict[str, Any], name: str, values: Any, classes: tuple[Any, ...]) -> None:
    """An output's log columns: `output:<name>`, or one per class (`output:<name>:<class>`) for a matrix."""
    import pyarrow as pa

    if isinstance(values, np.ndarray) and values.ndim == 2:
        labels = classes if len(classes) == values.shape[1] else range(values.shape[1])
        by_column = np.ascontiguousarray(values.T)
        for index, label in enumerate(labels):
            columns[f"output:{name}:{label}"] = pa.array(by_column[index])
    else:
        columns[f"output:{name}"] = _arrow_column(values)


def _arrow_column(values: Any) -> Any:
    """An Arrow column from values of one kind; mixed kinds (a number where text was sent) become text."""
    import pyarrow as pa

    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], pa.string())


def write_log_file(folder: LogFolder, table: Any) -> int:
    """Write one Parquet file (an Arrow table, or a DataFrame) whole, under a dot-name, then rename it
    into place; returns its size. In object storage one PUT makes the object appear whole, so a URL's
    file is written in place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    name = f"part-{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}.parquet"
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    # Dictionary pages only where values repeat (text, versions, classes): trying them on a million distinct
    # floats and timestamps costs five times the rest of the write, for nothing.
    repeated = [f.name for f in table.schema if not (pa.types.is_floating(f.type) or pa.types.is_timestamp(f.type))]
    if is_url(folder):
        import fsspec

        with fsspec.open(f"{str(folder).rstrip('/')}/date={day}/{name}", "wb") as handle:
            pq.write_table(table, handle, use_dictionary=repeated)
            return int(handle.tell())
    partition = Path(folder) / f"date={day}"
    partition.mkdir(parents=True, exist_ok=True)
    temporary = partition / f".{name}.tmp"
    pq.write_table(table, temporary, use_dictionary=repeated)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, partition / name)
    return (partition / name).stat().st_size


REQUEST_PREFIX = uuid.uuid4().hex[:20]  # this process's: request ids are unique across servers
REQUEST_NUMBERS = itertools.count()  # a request's number: `next(REQUEST_NUMBERS)` (no call frame, no system call)


REQUEST_ID = f"{REQUEST_PREFIX}%012x".encode()  # `REQUEST_ID % number`: a request's id, as the request path sends it


def request_id(number: int, prefix: str = REQUEST_PREFIX) -> str:
    """A request's id: its process's random prefix, then its number (as `REQUEST_ID % number` for this process)."""
    return f"{prefix}{number:012x}"
