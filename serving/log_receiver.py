"""The cluster's prediction-log receiver: KServe's inference logger sends CloudEvents here, and they
are written in the layout of a local endpoint's log (serving/prediction_log.py) under a root in
object storage (`prediction_log:` in tessera.yaml, e.g. s3://risk-models/predictions).

KServe's logger (`spec.predictor.logger: {mode: all, url: …}`) posts two events per request, in
CloudEvents' binary mode: `org.kubeflow.serving.inference.request` with the request body and
`org.kubeflow.serving.inference.response` with the response body, sharing `ce-id`, with the
extensions `inferenceservicename` and `endpoint` (`default` or `canary`). The logger URL Tessera sets
on an InferenceService adds what the events lack: `?endpoint=NAME&model=MODEL&version=V&sample=RATE`
(KServe keeps a canary's previous revision with its own spec, so each revision names its own version).

A request waits here for its response (and a response for its request) up to `pair_seconds`; each
pair becomes one `LoggedRequest` for the endpoint's `PredictionLog`, so batching, file names, the
sampling and the counters on `/metrics` are the local ones. A request answered by an error has no
response body with predictions and is not logged. Answers: 202 taken, 400 for anything that is not a
KServe inference event (with a short reason), 413 for a body over `max_bytes`.

    python -m serving.log_receiver --root s3://risk-models/predictions --port 8080
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np

from serving.prediction_log import LogFolder, LoggedRequest, PredictionLog

log = logging.getLogger("tessera.log_receiver")

REQUEST_TYPE = "org.kubeflow.serving.inference.request"
RESPONSE_TYPE = "org.kubeflow.serving.inference.response"
ENDPOINT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")  # an InferenceService name: no path tricks
DEFAULT_MAX_BYTES = 16 * 1024**2

ColumnsOf = Callable[[str, str], tuple[str, ...] | None]


class NotAnInferenceEvent(ValueError):
    """What was posted is not one of KServe's inference CloudEvents; the message says why."""


def signature_columns(tracking_uri: str) -> ColumnsOf:
    """Column names of a version's signature, read once per version from MLflow: requests that send
    rows as lists (v1 `instances`, one v2 tensor) carry values in this order and no names."""
    cache: dict[tuple[str, str], tuple[str, ...] | None] = {}

    def columns_of(model: str, version: str) -> tuple[str, ...] | None:
        if (model, version) not in cache:
            try:
                import mlflow

                mlflow.set_tracking_uri(tracking_uri)
                signature = mlflow.models.get_model_info(f"models:/{model}/{version}").signature
                cache[model, version] = tuple(signature.inputs.input_names()) if signature else None
            except Exception:  # an unknown version: positional names, the rows still get logged
                log.warning("no signature for %s/%s: columns logged by position", model, version)
                cache[model, version] = None
        return cache[model, version]

    return columns_of


class LogReceiver:
    """Pairs KServe's request and response events and hands each pair to the endpoint's prediction log."""

    def __init__(
        self, root: LogFolder, columns_of: ColumnsOf | None = None, pair_seconds: float = 60.0,
        flush_seconds: float = 10.0, max_bytes: int = DEFAULT_MAX_BYTES,
    ):  # fmt: skip
        self.root = str(root).rstrip("/")
        self.columns_of = columns_of or (lambda model, version: None)
        self.pair_seconds, self.flush_seconds, self.max_bytes = pair_seconds, flush_seconds, max_bytes
        self._waiting: dict[str, tuple[float, str, dict[str, Any], dict[str, str]]] = {}
        self._logs: dict[str, PredictionLog] = {}
        self._lock = threading.Lock()
        self.unpaired = 0

    def take(self, headers: dict[str, str], body: bytes, query: dict[str, str]) -> None:
        """One posted event (binary or structured mode).

        Raises:
            NotAnInferenceEvent: not a KServe inference event, or a bad endpoint name in the URL.
        """
        from cloudevents.http import from_http

        try:
            event = from_http(headers, body)
        except Exception as exc:  # the library's errors name the missing attribute
            raise NotAnInferenceEvent(f"not a CloudEvent: {str(exc)[:120]}") from None
        kind = event["type"]
        if kind not in (REQUEST_TYPE, RESPONSE_TYPE):
            raise NotAnInferenceEvent(f"event type '{str(kind)[:60]}' is not {REQUEST_TYPE} or {RESPONSE_TYPE}")
        data = event.data
        if not isinstance(data, dict):
            raise NotAnInferenceEvent("the event's data is not a JSON object (an inference request or response)")
        context = {
            "endpoint": query.get("endpoint") or str(event.get("inferenceservicename") or ""),
            "model": query.get("model", ""), "version": query.get("version", ""),
            "role": "canary" if event.get("endpoint") == "canary" else "default",
            "sample": query.get("sample", "1"),
        }  # fmt: skip
        if not ENDPOINT_NAME.match(context["endpoint"]):
            raise NotAnInferenceEvent(
                "the endpoint name (?endpoint= or the inferenceservicename extension) is missing or invalid"
            )
        event_id = str(event["id"])
        now = time.time()
        with self._lock:
            self._expire(now)
            other = self._waiting.pop(event_id, None)
            if other is None or other[1] == kind:
                self._waiting[event_id] = (now, kind, data, context)
                return
        request, response = (other[2], data) if kind == RESPONSE_TYPE else (data, other[2])
        self._log(event_id, request, response, context, other[0])

    def close(self) -> None:
        for prediction_log in self._logs.values():
            prediction_log.close()

    def _expire(self, now: float) -> None:
        stale = [key for key, (at, *_) in self._waiting.items() if now - at > self.pair_seconds]
        for key in stale:
            del self._waiting[key]
        self.unpaired += len(stale)

    def _log(
        self, event_id: str, request: dict[str, Any], response: dict[str, Any], context: dict[str, str], at: float
    ) -> None:
        rate = _rate(context["sample"])
        if rate < 1.0 and int(hashlib.sha256(event_id.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF >= rate:
            return  # sampled by id, so a request and its response are kept or dropped together
        version = str(response.get("model_version") or context["version"])
        outputs = response_outputs(response)
        if not outputs:
            return  # an error answer: nothing was predicted
        rows, columns = request_rows(request, lambda: self.columns_of(context["model"], version))
        entry = LoggedRequest(event_id, version, context["role"], at, rows, columns, outputs)
        endpoint = context["endpoint"]
        with self._lock:
            if endpoint not in self._logs:
                self._logs[endpoint] = PredictionLog(
                    f"{self.root}/{endpoint}", endpoint, flush_seconds=self.flush_seconds
                )
        self._logs[endpoint].record(entry, len(rows))


def request_rows(request: dict[str, Any], columns_of: Callable[[], tuple[str, ...] | None]) -> tuple[Any, Any]:
    """(rows, columns) of a logged request: records as sent, or a float matrix with its column names.

    Raises:
        NotAnInferenceEvent: neither v1 `instances` nor v2 `inputs`.
    """
    if isinstance(request.get("instances"), list) and request["instances"]:
        instances = request["instances"]
        if all(isinstance(row, dict) for row in instances):
            return instances, None
        return _matrix(instances, columns_of)
    inputs = request.get("inputs")
    if isinstance(inputs, list) and inputs and all(isinstance(t, dict) for t in inputs):
        if len(inputs) == 1 and len(inputs[0].get("shape", [])) == 2:
            shape = inputs[0]["shape"]
            return _matrix(np.asarray(inputs[0]["data"], dtype=object).reshape(shape).tolist(), columns_of)
        columns = {str(t.get("name")): list(t.get("data", [])) for t in inputs}
        count = min(len(values) for values in columns.values())
        return [{name: values[i] for name, values in columns.items()} for i in range(count)], None
    raise NotAnInferenceEvent("the request has neither 'instances' (v1) nor 'inputs' (v2)")


def response_outputs(response: dict[str, Any]) -> dict[str, np.ndarray]:
    """A response's outputs as arrays: v1's top-level lists, or v2's tensors reshaped."""
    if isinstance(response.get("outputs"), list):
        found = {}
        for tensor in response["outputs"]:
            if isinstance(tensor, dict) and isinstance(tensor.get("data"), list):
                values = np.asarray(tensor["data"])
                shape = tensor.get("shape") or [len(values)]
                found[str(tensor.get("name"))] = values.reshape(shape) if len(shape) <= 2 else values
        return found
    return {str(name): np.asarray(values) for name, values in response.items() if isinstance(values, list)}


def _matrix(rows: list[Any], columns_of: Callable[[], tuple[str, ...] | None]) -> tuple[Any, tuple[str, ...] | None]:
    width = len(rows[0]) if isinstance(rows[0], list) else 1
    names = columns_of()
    if names is None or len(names) != width:
        names = tuple(str(index) for index in range(width))
    try:
        return np.asarray(rows, dtype="float64"), names
    except (TypeError, ValueError):  # text among the values: log them as records
        return [dict(zip(names, row, strict=False)) for row in rows], None


def _rate(text: str) -> float:
    try:
        return min(max(float(text), 0.0), 1.0)
    except ValueError:
        return 1.0


def receiver_app(receiver: LogReceiver) -> Any:
    """The receiver over HTTP (a Starlette app): POST / takes an event; GET /healthz; GET /metrics."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def take(request: Request) -> Response:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > receiver.max_bytes:
            return JSONResponse({"error": f"event over {receiver.max_bytes} bytes"}, 413)
        body = await request.body()
        if len(body) > receiver.max_bytes:
            return JSONResponse({"error": f"event over {receiver.max_bytes} bytes"}, 413)
        try:
            receiver.take(dict(request.headers), body, dict(request.query_params))
        except NotAnInferenceEvent as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return Response(status_code=202)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok", "waiting": len(receiver._waiting), "unpaired": receiver.unpaired})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        receiver.close()  # write what is queued before the pod goes

    return Starlette(
        routes=[Route("/", take, methods=["POST"]), Route("/healthz", healthz), Route("/metrics", metrics)],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    import os

    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m serving.log_receiver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="where logs go, e.g. s3://risk-models/predictions")
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 (in a pod, behind a NetworkPolicy)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--flush-seconds", type=float, default=10.0)
    args = parser.parse_args(argv)
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
    receiver = LogReceiver(
        args.root, signature_columns(tracking_uri) if tracking_uri else None, flush_seconds=args.flush_seconds
    )
    uvicorn.run(receiver_app(receiver), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
