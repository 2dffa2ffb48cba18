"""The prediction log's writer process: `LogFiles` away from the serving process's interpreter lock.

The serving process gathers requests (serving/prediction_log.py) and, every few seconds, hands what it
gathered to this process: pickled into a spool file written with one system call, its path sent down a
pipe. This process converts the batch to Arrow, writes the Parquet files, deletes the spool file and
answers on a second pipe how many rows were logged and dropped, and whether logging is now off.

Why a spool file: every system call lets go of the interpreter lock, and taking it back while requests
run makes the requests wait for it (up to the switch interval, 5 ms, each time). Pushing megabytes
through a 64 KiB pipe took dozens of such round trips a batch: more than the conversion cost in-process.

Messages on the pipes are a length (8 bytes, big-endian) then the bytes; both ends are this code, on
pipes and files only they hold, so the batches may be pickles. The process ends when its input closes:
when the endpoint closes the log, or dies (kill -9 included), after the batch at hand is written. It
ignores SIGINT and SIGTERM, so a Ctrl-C or a stop meant for the endpoint never loses the last batch.

    python -m serving.log_writer FOLDER ENDPOINT MAX_BYTES SPOOL_FOLDER
"""

from __future__ import annotations

import gc
import logging
import os
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from serving.answered_requests import AnsweredRequests
from serving.prediction_log import LogFiles, LogFolder, LogShape, WriterGone, Written, is_url

log = logging.getLogger("tessera.prediction_log")

LENGTH = struct.Struct("!Q")
SPOOL_BUFFER = 1024**2  # bytes of a batch written to its spool file at once


class WriterProcess:
    """`LogFiles`, run by a process of its own: `write` and `close` as there; `write` raises WriterGone
    when the process is no longer there (the batch is then lost: it may or may not have been written)."""

    def __init__(self, folder: LogFolder, endpoint: str, max_bytes: int):
        self.endpoint = endpoint
        self.disabled = False
        self._spool = spool_folder(folder, endpoint)
        self._process = subprocess.Popen(
            [sys.executable, "-m", "serving.log_writer", str(folder), endpoint, str(max_bytes), str(self._spool)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip

    def write(self, shapes: list[LogShape | AnsweredRequests]) -> Written:
        assert self._process.stdin is not None and self._process.stdout is not None
        path = None
        try:
            self._spool.mkdir(exist_ok=True)  # `tessera monitor prune` may have taken it for a leftover
            handle, path = tempfile.mkstemp(dir=self._spool, suffix=".batch")
            with open(handle, "wb", buffering=SPOOL_BUFFER) as spool:
                dump_batch(spool, shapes)
        except OSError:  # a full disk, as for a log file: stop logging, keep serving
            log.exception("prediction log of %s turned off: writing failed", self.endpoint)
            if path is not None:
                Path(path).unlink(missing_ok=True)
            self.disabled = True
            return Written(0, sum(shape.rows for shape in shapes))
        try:
            send(self._process.stdin, path.encode())
            answer = receive(self._process.stdout)
        except OSError as exc:
            raise WriterGone(f"the writer process is gone ({exc.__class__.__name__})") from exc
        if answer is None:
            raise WriterGone(f"the writer process ended (exit {self._process.poll()})")
        written, self.disabled = pickle.loads(answer)  # noqa: S301 (our own process's answer, on our own pipe)
        return Written(*written)

    def close(self, timeout: float = 10.0) -> None:
        """Let the process finish what it was sent and end."""
        try:
            if self._process.stdin is not None:
                self._process.stdin.close()
            self._process.wait(timeout)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
        shutil.rmtree(self._spool, ignore_errors=True)


def spool_folder(folder: LogFolder, endpoint: str) -> Path:
    """A new folder for the batches on their way to the writer process: beside the log files, so a full disk
    is one failure for both, or a temporary folder for a log in object storage."""
    if is_url(folder):
        return Path(tempfile.mkdtemp(prefix=f"tessera-log-{endpoint[:40]}-"))
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=".spool-", dir=folder))


def dump_batch(spool: IO[bytes], batch: list[Any]) -> None:
    """A batch as a pickle streamed to the spool, then its arrays' buffers as they are (out of band).

    Streamed: the pickler hands the file each frame as it fills (64 KiB; large bytes objects as they
    are), and each write lets go of the interpreter lock, so the requests run meanwhile; building the
    whole pickle first held the lock for as long as copying a batch takes (a spike in latency for a
    batch of large requests). Out of band: a log receiver's decoded arrays are never copied at all.

    Layout: the pickle's length, the pickle, the buffer count, each buffer's length (8 bytes each), the
    buffers. The first length is written last, in its place."""
    buffers: list[pickle.PickleBuffer] = []
    start = spool.tell()
    spool.write(LENGTH.pack(0))
    pickle.dump(batch, spool, protocol=5, buffer_callback=buffers.append)
    pickle_length = spool.tell() - start - LENGTH.size
    views = [buffer.raw() for buffer in buffers]
    spool.write(b"".join(LENGTH.pack(length) for length in (len(views), *(view.nbytes for view in views))))
    for view in views:
        write_all(spool, view)
    spool.seek(start)
    spool.write(LENGTH.pack(pickle_length))
    spool.seek(0, os.SEEK_END)


def load_batch(data: bytes) -> list[Any]:
    """What `dump_batch` wrote; the buffers are views of `data`, not copies."""
    view = memoryview(data)
    pickle_length = LENGTH.unpack_from(view, 0)[0]
    header, offset = view[LENGTH.size : LENGTH.size + pickle_length], LENGTH.size + pickle_length
    count = LENGTH.unpack_from(view, offset)[0]
    lengths = [LENGTH.unpack_from(view, offset + LENGTH.size * (1 + i))[0] for i in range(count)]
    offset += LENGTH.size * (1 + count)
    buffers = []
    for length in lengths:
        buffers.append(view[offset : offset + length])
        offset += length
    return pickle.loads(header, buffers=buffers)  # type: ignore[no-any-return]  # noqa: S301 (our own spool)


def write_all(file: IO[bytes], data: bytes | memoryview) -> None:
    """All of data, in as few system calls as the kernel allows (one, nearly always)."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        if not written:
            raise OSError(f"{len(view)} bytes left that could not be written")
        view = view[written:]


def send(pipe: IO[bytes], message: bytes) -> None:
    pipe.write(LENGTH.pack(len(message)))
    pipe.write(message)
    pipe.flush()


def receive(pipe: IO[bytes]) -> bytes | None:
    """The next message, or None once the other end closed the pipe."""
    header = pipe.read(LENGTH.size)
    if len(header) < LENGTH.size:
        return None
    (length,) = LENGTH.unpack(header)
    message = pipe.read(length)
    return message if len(message) == length else None


def main(argv: list[str]) -> None:
    folder, endpoint, max_bytes, spool = argv[0], argv[1], int(argv[2]), Path(argv[3])
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(19)  # serving goes first: the log waits for a free moment, never the requests
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything a library prints goes to the endpoint's log, not into the answers
    files = LogFiles(folder, endpoint, max_bytes)
    gc.freeze()  # what the imports made: never scanned again
    while (message := receive(sys.stdin.buffer)) is not None:
        batch = Path(message.decode())
        shapes = load_batch(batch.read_bytes())
        batch.unlink()
        gc.disable()  # a batch makes many objects and frees them all: scanning for cycles doubled its cost
        try:
            written = files.write(shapes)
        finally:
            gc.enable()
        send(answers, pickle.dumps((tuple(written), files.disabled)))
    shutil.rmtree(spool, ignore_errors=True)  # the serving process may be gone without a word


if __name__ == "__main__":
    main(sys.argv[1:])
