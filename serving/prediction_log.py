"""The prediction log: every answered request's inputs and outputs, as Parquet under the workspace.

    .tessera/predictions/<endpoint>/date=YYYY-MM-DD/part-<unix ms>-<random>.parquet

One row per scored row, shaped like KServe's logger CloudEvents (a request id shared by the request's
rows, endpoint, model version, `default` or `canary`, time) with the inputs as `input:<column>` and
the outputs as `output:<name>` (a class probability as `output:probabilities:<class>`).

The request path only draws a sample and puts a reference on a bounded queue (`record`); a writer
thread turns batches into files. A file is written under a dot-name and renamed into place, so a
reader never sees half a file, even after kill -9. A full queue drops the record, a failed write
(a full disk) turns logging off; both are counted on `/metrics` and never fail a request.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class LoggedRequest:
    """One answered request, as the request path hands it over (nothing converted yet)."""

    request_id: str
    model_version: str
    role: str  # default or canary
    at: float
    rows: Any  # a list of records (dicts), or a float matrix whose columns are `columns`
    columns: tuple[str, ...] | None
    outputs: dict[str, np.ndarray]
    classes: tuple[Any, ...] = ()


def predictions_folder(state_dir: Path, endpoint: str) -> Path:
    return state_dir / "predictions" / endpoint


class PredictionLog:
    """The writer of one endpoint's prediction log (see the module docstring)."""

    def __init__(
        self, folder: Path, endpoint: str, sample_rate: float = 1.0, max_queue: int = 2000,
        flush_seconds: float = 2.0, max_bytes: int = DEFAULT_MAX_BYTES,
    ):  # fmt: skip
        self.folder = folder
        self.endpoint = endpoint
        self.sample_rate = sample_rate
        self.flush_seconds = flush_seconds
        self.max_bytes = max_bytes
        self.disabled = False
        self._queue: queue.Queue[LoggedRequest | None] = queue.Queue(maxsize=max_queue)
        self._logged, self._dropped = LOGGED.labels(endpoint), DROPPED.labels(endpoint)
        self._disabled_gauge = DISABLED.labels(endpoint)
        self._bytes = sum(p.stat().st_size for p in folder.glob(FILE_GLOB)) if folder.exists() else 0
        self._thread = threading.Thread(target=self._write_loop, name=f"prediction-log-{endpoint}", daemon=True)
        self._thread.start()

    def record(self, entry: LoggedRequest, rows: int) -> None:
        """Hand a request over; never blocks and never raises."""
        if self.sample_rate < 1.0 and random.random() >= self.sample_rate:  # noqa: S311 (sampling, not a secret)
            return
        if self.disabled:
            self._dropped.inc(rows)
            return
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self._dropped.inc(rows)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop the writer."""
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _write_loop(self) -> None:
        pending: list[LoggedRequest] = []
        deadline = time.monotonic() + self.flush_seconds
        while True:
            try:
                entry = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
                if entry is None:  # close(): write what is left
                    self._flush(pending)
                    return
                pending.append(entry)
            except queue.Empty:
                pass
            if time.monotonic() >= deadline or len(pending) >= 5000:
                self._flush(pending)
                pending = []
                deadline = time.monotonic() + self.flush_seconds

    def _flush(self, pending: list[LoggedRequest]) -> None:
        if not pending or self.disabled:
            return
        rows = sum(_row_count(entry) for entry in pending)
        if self._bytes >= self.max_bytes:
            self._dropped.inc(rows)
            return
        try:
            written = write_log_file(self.folder, to_frame(self.endpoint, pending))
        except Exception:  # a full disk, a read-only folder: stop logging, keep serving
            log.exception("prediction log of %s turned off: writing failed", self.endpoint)
            self.disabled = True
            self._disabled_gauge.set(1)
            self._dropped.inc(rows)
            return
        self._bytes += written
        self._logged.inc(rows)


def to_frame(endpoint: str, entries: list[LoggedRequest]) -> Any:
    """The log rows of some requests: one row per scored row."""
    import pandas as pd

    frames = []
    for entry in entries:
        if entry.columns is not None:
            inputs = pd.DataFrame(np.asarray(entry.rows), columns=list(entry.columns))
        else:
            inputs = pd.DataFrame.from_records(entry.rows)
        frame = inputs.add_prefix("input:")
        for name, values in entry.outputs.items():
            array = np.asarray(values)
            if array.ndim == 2:
                labels = entry.classes if len(entry.classes) == array.shape[1] else range(array.shape[1])
                for index, label in enumerate(labels):
                    frame[f"output:{name}:{label}"] = array[:, index]
            else:
                frame[f"output:{name}"] = array
        frame.insert(0, "request_id", entry.request_id)
        frame.insert(1, "row", np.arange(len(frame)))
        frame.insert(2, "endpoint", endpoint)
        frame.insert(3, "model_version", entry.model_version)
        frame.insert(4, "role", entry.role)
        frame.insert(5, "time", pd.Timestamp(entry.at, unit="s", tz="UTC"))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write_log_file(folder: Path, frame: Any) -> int:
    """Write one Parquet file whole, under a dot-name, then rename it into place; returns its size."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    partition = folder / f"date={day}"
    partition.mkdir(parents=True, exist_ok=True)
    name = f"part-{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}.parquet"
    temporary = partition / f".{name}.tmp"
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, partition / name)
    return (partition / name).stat().st_size


def _row_count(entry: LoggedRequest) -> int:
    return len(entry.rows)


def new_request_id() -> str:
    return uuid.uuid4().hex
