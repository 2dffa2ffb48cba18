"""The ASGI layer in front of kserve's app: auth, limits, strict decoding, and the fast predict path.

Requests for this endpoint's predict (V1), infer and metadata (V2) are answered here, straight
from the loaded model; everything else (liveness, model lists, `/metrics`, the repository API)
goes on to kserve's own FastAPI app. Answering predict here is what makes the endpoint fast
(no per-request DataFrame, no FastAPI dependency resolution) and safe: kserve answers a wrong
feature count with a 500 (kserve#3377), this layer with a 400 naming the field.

Rules, in order: health paths are open and report 503 while draining; every other path needs
`Authorization: Bearer <token>` (401); only this endpoint's prediction and metadata routes (also
per served version: `/v2/models/NAME/versions/V[/infer]`) and kserve's model list and server
metadata are answered, never kserve's repository or other management routes (404); a body over
the limit is a 413 before it is read in full; a content type other than JSON (or, with
`Inference-Header-Content-Length`, the binary tensor extension) is a 415; a body that does not
decode is a 400. Every error body is `{"error": "..."}`, at most 2 KB, quoting at most 64
characters of any name that was sent.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
import orjson
from prometheus_client import Counter, Histogram

from serving.answered_requests import LogKind
from serving.binary_tensors import HEADER_LENGTH, binary_outputs, encode_binary_response, read_binary_request
from serving.inference_pipeline import InferencePipeline
from serving.openapi import openapi_document
from serving.payloads import BadRequest, decoded_rows, parse_json, quoted
from serving.prediction_log import REQUEST_ID, REQUEST_NUMBERS
from serving.served_model import Outputs, ServedModel, tensor_datatype
from serving.tokens import bearer_matches
from serving.traffic import EndpointState
from tessera.suggest import did_you_mean

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("tessera.endpoint")

REQUESTS = Counter(
    "tessera_endpoint_requests", "Prediction requests answered", ["endpoint", "protocol", "model_version", "code"]
)
LATENCY = Histogram(
    "tessera_endpoint_request_seconds",
    "Time from first byte read to response sent",
    ["endpoint", "protocol"],
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)

OPEN_PATHS = {"/", "/v2/health/live", "/metrics"}
READINESS = re.compile(r"/v2/health/ready|/v2/models/[^/]+/ready|/v1/models/[^/:]+")
VERSIONED = re.compile(r"/v2/models/(?P<name>[^/]+)/versions/(?P<version>[^/]+)(?P<infer>/infer)?")
FORWARDED = {("GET", "/v1/models"), ("GET", "/v2"), ("GET", "/v2/models")}  # kserve's model list, server metadata
PREDICT_PATH = re.compile(r"/v1/models/(?P<name>[^/:]+):predict|/v2/models/(?P<v2name>[^/]+)/infer")
JSON_TYPES = {"application/json", "application/cloudevents+json"}


class FrontDoor:
    """`FrontDoor(kserve_app, state)` is the ASGI app uvicorn serves."""

    def __init__(self, fallback: ASGIApp, state: EndpointState):
        self.fallback = fallback
        self.state = state
        self.v1_path = f"/v1/models/{state.name}:predict"
        self.v2_path = f"/v2/models/{state.name}/infer"
        self.metadata_path = f"/v2/models/{state.name}"
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._logged_traffic: Any = None  # the traffic table the log shapes below are for
        self._log_kinds: dict[int, int] = {}  # the log's kind number, by id of the served version
        self._latency = {protocol: LATENCY.labels(state.name, protocol) for protocol in ("v1", "v2")}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        path: str = scope["path"]
        if path in OPEN_PATHS or (scope["method"] == "GET" and READINESS.fullmatch(path)):
            if self.state.draining and path != "/metrics" and path != "/v2/health/live":
                await _reply(send, 503, {"error": "endpoint is shutting down"})
            else:
                await self.fallback(scope, receive, send)
            return
        if not bearer_matches(_header(scope, b"authorization"), self.state.token_hash):
            await _reply(send, 401, {"error": "missing or wrong bearer token: send 'Authorization: Bearer <token>'"})
            return
        if scope["method"] == "POST" and path in (self.v1_path, self.v2_path):
            await self._predict(scope, receive, send, "v1" if path == self.v1_path else "v2")
        elif scope["method"] == "GET" and path == self.metadata_path:
            await _reply(send, 200, self._metadata())
        elif scope["method"] == "GET" and path == "/openapi.json":
            primary = self.state.traffic.primary
            await _reply(send, 200, openapi_document(self.state.name, primary.schema, primary.outputs))
        elif match := VERSIONED.fullmatch(path):
            await self._versioned(scope, receive, send, match)
        elif scope["method"] == "POST" and (match := PREDICT_PATH.fullmatch(path)):
            asked = match["name"] or match["v2name"]
            hint = did_you_mean(asked[:200], [self.state.name]) or f"; this endpoint serves '{self.state.name}'"
            await _reply(send, 404, {"error": f"no model named {quoted(asked)} here{hint}"})
        elif (scope["method"], path) in FORWARDED:
            await self.fallback(scope, receive, send)
        else:
            await _reply(
                send, 404, {"error": f"no route {scope['method']} {quoted(path)} here; see {self.metadata_path}"}
            )

    async def _versioned(self, scope: Scope, receive: Receive, send: Send, match: re.Match[str]) -> None:
        """`/v2/models/NAME/versions/V` (metadata) and `…/infer` (answered by that version alone)."""
        traffic = self.state.traffic
        entry = next((e for e in traffic.entries if e[1].version == match["version"]), None)
        if match["name"] != self.state.name or entry is None:
            served = ", ".join(route.version for route in traffic.routes)
            error = f"no version {quoted(match['version'])} of {quoted(match['name'])} here; this endpoint serves "
            await _reply(send, 404, {"error": error + f"'{self.state.name}' versions {served}"})
        elif match["infer"] and scope["method"] == "POST":
            await self._predict(scope, receive, send, "v2", entry)
        elif not match["infer"] and scope["method"] == "GET":
            await _reply(send, 200, self._metadata() | {"versions": [match["version"]]})
        else:
            await _reply(send, 405, {"error": "use GET for a version's metadata and POST for …/infer"})

    async def _predict(
        self, scope: Scope, receive: Receive, send: Send, protocol: str, entry: tuple[ServedModel, Any] | None = None
    ) -> None:
        started = time.perf_counter()
        traffic = self.state.traffic  # read once: this request stays on this table through a swap
        model, route = entry or traffic.choose()
        headers = [(b"x-model-name", model.model_name.encode()), (b"x-model-version", model.version.encode())]
        body, binary_header, rows, scored = b"", None, 0, 0.0
        try:
            body = await _read_body(scope, receive, self.state.max_body_bytes)
            binary_header = _header(scope, HEADER_LENGTH) if protocol == "v2" else None
            if binary_header is not None:
                payload = read_binary_request(body, binary_header)
            else:
                _check_content_type(scope)
                payload = parse_json(body)
            outputs, rows = _run(model, payload, protocol, self.state.max_batch_rows)
            scored = time.perf_counter() - started
            binary: set[str] = set()
            if protocol == "v1":
                code, answer = 200, _v1_answer(outputs)
            else:
                outputs = _requested(outputs, payload)
                code, answer = 200, _v2_answer(self.state.name, model, outputs, payload)
                binary = binary_outputs(payload, list(outputs))
        except BadRequest as exc:
            code, answer, binary = exc.status, {"error": exc.message}, set()
        except Exception:
            log.exception("prediction failed on %s", model.label)
            code, binary = 500, set()
            answer = {"error": f"the model failed on this request; see the endpoint's log ({model.label})"}
        if binary:
            content, answer_header = encode_binary_response(answer, binary)
            typed = [(b"content-type", b"application/octet-stream"), (HEADER_LENGTH, str(answer_header).encode())]
        else:
            content, answer_header, typed = orjson.dumps(answer), -1, [(b"content-type", b"application/json")]
        # The prediction log's hand-over is inline and calls no Python function of the log in the common case
        # (see serving/answered_requests.py for why).
        prediction_log = self.state.prediction_log if code == 200 else None
        if (
            prediction_log is not None
            and (
                prediction_log.sample_rate < 1.0
                or len(prediction_log.waiting) >= prediction_log.room
                or len(body) > prediction_log.largest
            )
            and prediction_log.declined(rows, len(body))
        ):
            prediction_log = None  # not drawn in the sample, or no room: not logged, so given no id
        if prediction_log is not None:  # the id the log keeps, for joining labels later
            number = next(REQUEST_NUMBERS)
            headers.append((b"x-request-id", REQUEST_ID % number))
        await _send(send, code, content, typed + headers)
        if prediction_log is not None:  # after the answer left: the caller does not wait for the log
            kinds = self._log_kinds if traffic is self._logged_traffic else self._new_log_kinds(traffic)
            kind = kinds.get(id(model))  # the traffic table keeps its models, and so their ids
            if kind is None:
                kind = kinds[id(model)] = self._log_kind(prediction_log, model, traffic)
            body_header = int(binary_header) if binary_header is not None else -1
            prediction_log.waiting.append(  # a Record, as a plain tuple
                (kind, protocol, number, started, scored, rows, body, body_header, content, answer_header)
            )
        self._count(protocol, model.version, code)
        self._latency[protocol].observe(time.perf_counter() - started)

    def _new_log_kinds(self, traffic: Any) -> dict[int, int]:
        """A swap: the roles may have changed."""
        self._logged_traffic, self._log_kinds = traffic, {}
        return self._log_kinds

    @staticmethod
    def _log_kind(prediction_log: Any, model: ServedModel, traffic: Any) -> int:
        """The log's number for requests this served version answers (once per version and traffic table)."""
        primary = traffic.primary.version == model.version and traffic.primary.model_name == model.model_name
        contract = model.predictor.contract
        classes = tuple(contract.as_metadata()["classes"]) if contract.task == "classification" else ()
        role = "default" if primary else "canary"
        return int(prediction_log.kind(LogKind(model.version, role, classes, model.schema, model.takes_matrix)))

    def _count(self, protocol: str, version: str, code: int) -> None:
        key = (protocol, version, str(code))
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = REQUESTS.labels(self.state.name, protocol, version, str(code))
        counter.inc()

    def _metadata(self) -> dict[str, Any]:
        traffic = self.state.traffic
        primary = traffic.primary
        schema = primary.schema
        inputs: list[dict[str, Any]] = (
            [
                {"name": c, "datatype": INPUT_DATATYPES.get(k, "FP64"), "shape": [-1]}
                for c, k in zip(schema.columns, schema.kinds, strict=True)
            ]
            if schema
            else []
        )
        if primary.pipeline is not None:
            inputs = [i | {"parameters": _raw_column(primary.pipeline, i["name"])} for i in inputs]
        if primary.lookup is not None:  # the first input is the entity key the features are read by
            inputs[0] = inputs[0] | {"parameters": {"nullable": False, "entity": True}}
        return {
            "name": self.state.name,
            "versions": [route.version for route in traffic.routes],
            "platform": primary.platform,
            "inputs": inputs,
            "outputs": primary.outputs,
            "parameters": {"routes": [route.model_dump() for route in traffic.routes]}
            | _classes(primary)
            | ({"features": primary.lookup.describe()} if primary.lookup is not None else {}),
        }


def _run(model: ServedModel, payload: Any, protocol: str, max_rows: int) -> tuple[Outputs, int]:
    """(outputs, the number of rows scored)."""
    rows, _ = decoded_rows(payload, protocol, model.schema, model.takes_matrix, max_rows)
    return model.predict(rows), len(rows)


INPUT_DATATYPES = {"boolean": "BOOL", "string": "BYTES", "double": "FP64", "long": "INT64", "integer": "INT32"}


def _raw_column(pipeline: InferencePipeline, column: str) -> dict[str, Any]:
    """What a raw column takes: may it be null, and a categorical column's known values."""
    described: dict[str, Any] = {"nullable": column in pipeline.nullable}
    if column in pipeline.choices:
        described["categories"] = pipeline.choices[column]
    return described


def _classes(model: ServedModel) -> dict[str, Any]:
    """A classifier's class order: the columns of `probabilities`."""
    contract = model.predictor.contract
    return {"classes": contract.as_metadata()["classes"]} if contract.task == "classification" else {}


def _requested(outputs: Outputs, payload: dict[str, Any]) -> Outputs:
    """Only the outputs a V2 request names in `outputs` (all of them when it names none)."""
    asked = payload.get("outputs")
    if asked is None:
        return outputs
    if not isinstance(asked, list) or not all(isinstance(o, dict) and isinstance(o.get("name"), str) for o in asked):
        raise BadRequest("'outputs' must be a list of objects with a 'name'")
    unknown = [o["name"] for o in asked if o["name"] not in outputs]
    if unknown:
        raise BadRequest(f"unknown output {quoted(unknown[0])}; this model's outputs are: {', '.join(outputs)}")
    return {o["name"]: outputs[o["name"]] for o in asked}


def _v1_answer(outputs: Outputs) -> dict[str, Any]:
    return {name: values.tolist() for name, values in outputs.items()}


def _v2_answer(endpoint: str, model: ServedModel, outputs: Outputs, payload: dict[str, Any]) -> dict[str, Any]:
    tensors = []
    for name, values in outputs.items():
        array = np.asarray(values)
        datatype = tensor_datatype(array)
        data = array.astype(str) if datatype == "BYTES" else array
        tensors.append({"name": name, "shape": list(array.shape), "datatype": datatype, "data": data.ravel().tolist()})
    answer: dict[str, Any] = {"model_name": endpoint, "model_version": model.version, "outputs": tensors}
    if isinstance(payload.get("id"), str):
        answer["id"] = payload["id"]
    return answer


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _check_content_type(scope: Scope) -> None:
    content_type = _header(scope, b"content-type")
    if content_type is None:
        return
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime not in JSON_TYPES:
        raise BadRequest(f"content type '{mime}' is not supported: send 'Content-Type: application/json'", 415)


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"request body of {int(declared)} bytes is over this endpoint's limit of {limit} bytes", 413)
    chunks = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"request body is over this endpoint's limit of {limit} bytes", 413)
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _reply(
    send: Send, status: int, body: dict[str, Any], headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send(send, status, orjson.dumps(body), [(b"content-type", b"application/json"), *(headers or [])])


async def _send(send: Send, status: int, content: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    length = (b"content-length", str(len(content)).encode())
    await send({"type": "http.response.start", "status": status, "headers": [*headers, length]})
    await send({"type": "http.response.body", "body": content})
