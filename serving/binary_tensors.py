"""The Open Inference Protocol's binary tensor data extension, for requests and responses.

A binary request is a JSON header of `Inference-Header-Content-Length` bytes, followed by the raw
little-endian bytes of each input that carries `parameters.binary_data_size` instead of `data`, in
input order (kserve's `InferenceRESTClient` sends V2 requests this way by default). A response is
binary for the outputs the request asks so for: `parameters.binary_data_output` on the request, or
`parameters.binary_data` on one of its `outputs`.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from serving.payloads import BadRequest, parse_json, quoted

HEADER_LENGTH = b"inference-header-content-length"
DTYPES = {
    "BOOL": "?", "UINT8": "u1", "UINT16": "<u2", "UINT32": "<u4", "UINT64": "<u8", "INT8": "i1", "INT16": "<i2",
    "INT32": "<i4", "INT64": "<i8", "FP16": "<f2", "FP32": "<f4", "FP64": "<f8",
}  # fmt: skip


def read_binary_request(body: bytes, header_length: str) -> Any:
    """The request as the JSON form would have it: each binary input's bytes decoded into its `data`."""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise BadRequest("Inference-Header-Content-Length must be the byte length of the JSON header in the body")
    length = int(header_length)
    payload = parse_json(body[:length])
    inputs = payload.get("inputs") if isinstance(payload, dict) else None
    if not isinstance(inputs, list):
        raise BadRequest("request header must be a JSON object with an 'inputs' list")
    offset = length
    for k, tensor in enumerate(inputs):
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        if "data" in tensor:
            raise BadRequest(f"inputs[{k}] has both 'data' and binary_data_size: send one of them")
        dtype = DTYPES.get(tensor.get("datatype"))  # type: ignore[arg-type]
        if dtype is None:
            raise BadRequest(
                f"inputs[{k}]: binary data of datatype {quoted(str(tensor.get('datatype')))} is not taken here; "
                f"send one of {', '.join(DTYPES)}"
            )
        if not isinstance(size, int) or size < 0 or offset + size > len(body) or size % np.dtype(dtype).itemsize:
            raise BadRequest(f"inputs[{k}].parameters.binary_data_size does not match the bytes sent")
        tensor["data"] = np.frombuffer(body[offset : offset + size], dtype=dtype).tolist()
        offset += size
    if offset != len(body):
        raise BadRequest(f"{len(body) - offset} bytes follow the last binary input; binary_data_size is off")
    return payload


def binary_outputs(payload: dict[str, Any], names: list[str]) -> set[str]:
    """The outputs to answer as binary data (see the module docstring)."""
    parameters = payload.get("parameters")
    everything = isinstance(parameters, dict) and parameters.get("binary_data_output") is True
    asked = {
        o.get("name"): (o.get("parameters") or {}).get("binary_data")
        for o in payload.get("outputs") or []
        if isinstance(o, dict)
    }
    return {n for n in names if asked.get(n) is True or (everything and asked.get(n) is not False)}


def encode_binary_response(answer: dict[str, Any], binary: set[str]) -> tuple[bytes, int]:
    """The answer's JSON header and the raw bytes of its binary outputs; returns (body, header length)."""
    chunks = []
    for output in answer["outputs"]:
        if output["name"] not in binary:
            continue
        data = output.pop("data")
        raw = (
            _bytes_tensor(data)
            if output["datatype"] == "BYTES"
            else np.asarray(data, DTYPES[output["datatype"]]).tobytes()
        )
        output["parameters"] = {"binary_data_size": len(raw)}
        chunks.append(raw)
    header = orjson.dumps(answer)
    return header + b"".join(chunks), len(header)


def read_binary_response(content: bytes, header_length: int) -> dict[str, Any]:
    """An answer of `encode_binary_response` as its JSON form: each binary output's bytes back in `data`."""
    answer: dict[str, Any] = orjson.loads(content[:header_length])
    offset = header_length
    for output in answer["outputs"]:
        size = (output.get("parameters") or {}).get("binary_data_size")
        if size is None:
            continue
        raw = content[offset : offset + size]
        offset += size
        output["data"] = (
            _bytes_elements(raw)
            if output["datatype"] == "BYTES"
            else np.frombuffer(raw, DTYPES[output["datatype"]]).tolist()
        )
    return answer


def _bytes_elements(raw: bytes) -> list[str]:
    """The elements `_bytes_tensor` packed, as text."""
    elements, offset = [], 0
    while offset < len(raw):
        (length,) = struct.unpack_from("<I", raw, offset)
        elements.append(raw[offset + 4 : offset + 4 + length].decode())
        offset += 4 + length
    return elements


def _bytes_tensor(values: list[Any]) -> bytes:
    """BYTES elements as the protocol packs them: each one's length (4 bytes, little-endian), then its bytes."""
    parts = []
    for value in values:
        encoded = value if isinstance(value, bytes) else str(value).encode()
        parts.append(struct.pack("<I", len(encoded)) + encoded)
    return b"".join(parts)
