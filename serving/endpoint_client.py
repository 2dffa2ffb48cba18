"""Calling a live endpoint from Tessera itself (the studio's try-it form, its request counters)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from serving.endpoints import EndpointError, EndpointFailed


@dataclass(frozen=True)
class EndpointTraffic:
    requests: int
    errors: int
    mean_ms: float | None


class EndpointClient:
    """V1/V2 calls to one endpoint with its bearer token; every failure is an EndpointError a user can act on."""

    def __init__(self, url: str, name: str, token: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.name = name
        self.token = token
        self.timeout = timeout

    def metadata(self) -> dict[str, Any]:
        """The model's V2 metadata: versions served and input columns from its MLflow signature."""
        return dict(self._call("GET", f"/v2/models/{self.name}"))

    def predict(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """V1 predict with `instances` as records; returns the JSON answer plus the version that answered."""
        return dict(self._call("POST", f"/v1/models/{self.name}:predict", {"instances": records}))

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.token}"}
        try:
            answer = httpx.request(method, self.url + path, json=body, headers=headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            raise EndpointFailed(
                f"endpoint '{self.name}' at {self.url} does not answer ({exc.__class__.__name__}): "
                f"is it running? `tessera endpoint start {self.name}`"
            ) from None
        if answer.status_code == 401:
            raise EndpointError(f"endpoint '{self.name}' refused the token: issue a new one (`tessera endpoint token`)")
        if answer.status_code >= 400:
            try:
                message = answer.json().get("error", answer.text)
            except ValueError:
                message = answer.text
            refused = EndpointFailed if answer.status_code >= 500 else EndpointError  # a 4xx: the request must change
            raise refused(f"endpoint '{self.name}' answered {answer.status_code}: {message}")
        result = answer.json()
        if isinstance(result, dict):
            result["model_version"] = answer.headers.get("x-model-version", result.get("model_version"))
            if "x-request-id" in answer.headers:  # the prediction log's id: labels join on it later
                result["request_id"] = answer.headers["x-request-id"]
        return result


def endpoint_traffic(url: str) -> EndpointTraffic:
    """Requests answered, errors and mean latency since the server started, from its Prometheus `/metrics`."""
    try:
        text = httpx.get(url.rstrip("/") + "/metrics", timeout=5).text
    except httpx.HTTPError as exc:
        raise EndpointFailed(
            f"{url}/metrics does not answer ({exc.__class__.__name__}): is the endpoint running?"
        ) from None
    requests = errors = 0
    for code, value in re.findall(
        r'^tessera_endpoint_requests_total\{[^}]*code="(\d+)"[^}]*\} ([0-9.e+]+)', text, re.M
    ):
        requests += int(float(value))
        errors += int(float(value)) if not code.startswith("2") else 0
    total = sum(
        float(v) for v in re.findall(r"^tessera_endpoint_request_seconds_sum\{[^}]*\} ([0-9.e+-]+)", text, re.M)
    )
    count = sum(
        float(v) for v in re.findall(r"^tessera_endpoint_request_seconds_count\{[^}]*\} ([0-9.e+]+)", text, re.M)
    )
    return EndpointTraffic(requests, errors, 1000 * total / count if count else None)
