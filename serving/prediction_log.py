"""The prediction log: every answered request's inputs and outputs, as Parquet under the workspace.

    .tessera/predictions/<endpoint>/date=YYYY-MM-DD/part-<unix ms>-<random>.parquet

A log folder is a local path or an fsspec URL (`s3://bucket/predictions/<endpoint>`: where the cluster's
log receiver, serving/log_receiver.py, writes). One row per scored row, shaped like KServe's logger CloudEvents (a request id shared by the request's
rows, endpoint, model version, `default` or `canary`, time, the request's latency) with the inputs as `input:<column>` and
the outputs as `output:<name>` (a class probability as `output:probabilities:<class>`).

The request path only draws a sample and appends a reference to a bounded deque (`record`); a writer
thread wakes every `flush_seconds`, turns what is there into one file. A file is written under a dot-name and renamed into place, so a
reader never sees half a file, even after kill -9. A full queue drops the record, a failed write
(a full disk) turns logging off; both are counted on `/metrics` and never fail a request.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import random
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from prometheus_client import Counter, Gauge

log = logging.getLogger("tessera.prediction_log")

LOGGED = Counter("tessera_prediction_log_rows", "Scored rows written to the prediction log", ["endpoint"])
DROPPED = Counter(
    "tessera_prediction_log_dropped_rows", "Scored rows not logged: queue full, size cap or logging off", ["endpoint"]
)
DISABLED = Gauge(
    "tessera_prediction_log_disabled", "1 once a failed write (e.g. a full disk) turned logging off", ["endpoint"]
)

FILE_GLOB = "date=*/part-*.parquet"
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


class PredictionLog:
    """The writer of one endpoint's prediction log (see the module docstring)."""

    def __init__(
        self, folder: LogFolder, endpoint: str, sample_rate: float = 1.0, max_queue: int = 50_000,
        flush_seconds: float = 2.0, max_bytes: int = DEFAULT_MAX_BYTES,
    ):  # fmt: skip
        self.folder = folder
        self.endpoint = endpoint
        self.sample_rate = sample_rate
        self.flush_seconds = flush_seconds
        self.max_bytes = max_bytes
        self.disabled = False
        self.max_queue = max_queue
        # A deque, not a queue.Queue: appending takes no lock and wakes no thread, so a request never
        # hands the interpreter to the writer; the writer wakes on its own every flush_seconds.
        self._pending: collections.deque[LoggedRequest] = collections.deque()
        self._stop = threading.Event()
        self._logged, self._dropped = LOGGED.labels(endpoint), DROPPED.labels(endpoint)
        self._disabled_gauge = DISABLED.labels(endpoint)
        self._bytes = 0 if is_url(folder) else sum(p.stat().st_size for p in Path(folder).glob(FILE_GLOB))
        self._thread = threading.Thread(target=self._write_loop, name=f"prediction-log-{endpoint}", daemon=True)
        self._thread.start()

    def record(self, entry: LoggedRequest, rows: int) -> None:
        """Hand a request over; never blocks and never raises."""
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:  # noqa: S311 (sampling, not a secret)
            return
        if self.disabled or len(self._pending) >= self.max_queue:
            self._dropped.inc(rows)
            return
        self._pending.append(entry)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        self._stop.set()
        self._thread.join(timeout)

    def _write_loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self._drain()
        self._drain()

    def _drain(self) -> None:
        batch: list[LoggedRequest] = []
        while self._pending:
            batch.append(self._pending.popleft())
            if len(batch) >= 20_000:
                self._flush(batch)
                batch = []
        self._flush(batch)

    def _flush(self, pending: list[LoggedRequest]) -> None:
        if not pending or self.disabled:
            return
        rows = sum(_row_count(entry) for entry in pending)
        if self._bytes >= self.max_bytes:
            self._dropped.inc(rows)
            return
        try:
            written = write_log_file(self.folder, to_table(self.endpoint, pending))
        except Exception:  # a full disk, a read-only folder: stop logging, keep serving
            log.exception("prediction log of %s turned off: writing failed", self.endpoint)
            self.disabled = True
            self._disabled_gauge.set(1)
            self._dropped.inc(rows)
            return
        self._bytes += written
        self._logged.inc(rows)


def to_table(endpoint: str, entries: list[LoggedRequest]) -> Any:
    """The log rows of some requests (one row per scored row) as an Arrow table, built column by column:
    the writer must not hold the interpreter long while requests wait for it."""
    import pyarrow as pa

    groups: dict[tuple[Any, ...], list[LoggedRequest]] = {}
    for entry in entries:  # one shape per group: the same columns, outputs and classes
        # A model's requests share its columns and classes tuples: their ids group them without hashing
        # thirty names per request (the entries keep the tuples alive, so the ids stay theirs).
        shape = tuple(values.shape[1:] for values in entry.outputs.values())
        groups.setdefault((id(entry.columns), id(entry.classes), *entry.outputs, shape), []).append(entry)
    tables = [_group_table(endpoint, group) for group in groups.values()]
    return tables[0] if len(tables) == 1 else pa.concat_tables(tables, promote_options="default")


def _group_table(endpoint: str, group: list[LoggedRequest]) -> Any:
    import pyarrow as pa

    counts = np.fromiter((len(entry.rows) for entry in group), dtype="int64", count=len(group))
    single = bool((counts == 1).all())  # one row per request: nothing to repeat

    def per_row(values: list[Any]) -> Any:
        return pa.array(values) if single else pa.array(np.repeat(np.asarray(values), counts))

    owner = None if single else pa.array(np.repeat(np.arange(len(group), dtype="int32"), counts))

    def per_row_text(values: list[str]) -> Any:
        """Text repeated for each row of its request, as a dictionary column: one string per request, not
        per row (repeating Python strings a hundred times was most of a batch's cost)."""
        texts = pa.array(values, pa.string())
        return texts.dictionary_encode() if owner is None else pa.DictionaryArray.from_arrays(owner, texts)

    total = int(counts.sum())
    rows = np.zeros(total, "int64") if single else np.concatenate([np.arange(n) for n in counts])
    at = np.fromiter((e.at for e in group), dtype="float64", count=len(group))
    columns: dict[str, Any] = {
        "request_id": per_row_text([e.request_id for e in group]),
        "row": pa.array(rows),
        "endpoint": pa.DictionaryArray.from_arrays(pa.array(np.zeros(total, "int32")), pa.array([endpoint])),
        "model_version": per_row_text([e.model_version for e in group]),
        "role": per_row_text([e.role for e in group]),
        "time": pa.array(((at if single else np.repeat(at, counts)) * 1e6).astype("int64"), pa.timestamp("us", "UTC")),
        "latency_ms": per_row([e.latency_ms for e in group]),
    }
    first = group[0]
    if first.columns is not None:  # float matrices in signature order
        # Column-major from the start: each request's small block is transposed while in cache, and every
        # column is then one contiguous run that Arrow takes without copying.
        by_column = np.ascontiguousarray(np.concatenate([np.asarray(e.rows, dtype="float64") for e in group]).T)
        for index, name in enumerate(first.columns):
            columns[f"input:{name}"] = pa.array(by_column[index])
    else:  # records, as the caller sent them
        names = list(dict.fromkeys(key for e in group for record in e.rows[:1] for key in record))
        for name in names:
            columns[f"input:{name}"] = _arrow_column([record.get(name) for e in group for record in e.rows])
    for name in first.outputs:
        stacked = np.concatenate([np.asarray(e.outputs[name]) for e in group])
        if stacked.ndim == 2:
            labels = first.classes if len(first.classes) == stacked.shape[1] else range(stacked.shape[1])
            stacked = np.ascontiguousarray(stacked.T)
            for index, label in enumerate(labels):
                columns[f"output:{name}:{label}"] = pa.array(stacked[index])
        else:
            columns[f"output:{name}"] = _arrow_column(stacked)
    return pa.table(columns)


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


def _row_count(entry: LoggedRequest) -> int:
    return len(entry.rows)


_PROCESS_ID = uuid.uuid4().hex[:20]
_REQUESTS = itertools.count()


def new_request_id() -> str:
    """Unique across servers (a random prefix per process) and cheap (a counter, no system call)."""
    return f"{_PROCESS_ID}{next(_REQUESTS):012x}"
