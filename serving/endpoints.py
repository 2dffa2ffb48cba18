"""Endpoints: the values (what to serve, what is served) and the contract every target keeps.

An endpoint is a named REST service serving one model version, or two with a weighted canary
split. Targets: `LocalProcessTarget` (a managed `kserve` model server process on this machine)
and `KServeTarget` (an InferenceService on a cluster).

    EndpointError   (a TesseraError) unknown endpoint, name taken, bad split, a server that
                    would not start or load; the message says what to do.
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from serving.model_registry import parse_model_ref
from tessera.errors import OperationFailed, TesseraError

NAME_PATTERN = re.compile(r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?")
DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_BATCH_ROWS = 10_000


class EndpointError(TesseraError):
    """An endpoint that does not exist or cannot be created as asked (the request must change)."""


class EndpointFailed(EndpointError, OperationFailed):
    """An endpoint that was asked for correctly but did not start, swap or answer, or a cluster that refused it."""


class Resources(BaseModel):
    """What one server replica asks of a cluster (ignored by the local target)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    cpu: str = "1"
    memory: str = "2Gi"
    gpu: int = Field(default=0, ge=0)


class FeatureLookup(BaseModel):
    """Score by id: the Feast repo and views an endpoint reads a request's features from, and the entity key.

    Example:
        >>> FeatureLookup.parse("projects/risk/features:player_activity", "player_id").views
        ('player_activity',)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    repo: str
    views: tuple[str, ...] = Field(min_length=1)
    entity: str = "player_id"

    @classmethod
    def parse(cls, text: str, entity: str = "player_id") -> FeatureLookup:
        """`REPO:VIEW[,VIEW…]`, as `--features` takes it."""
        repo, _, views = text.rpartition(":")
        names = tuple(v.strip() for v in views.split(",") if v.strip())
        if not repo or not names:
            raise EndpointError(
                f"--features takes REPO:VIEW[,VIEW…], e.g. projects/risk/features:player_activity; got '{text[:64]}'"
            )
        return cls(repo=repo, views=names, entity=entity)

    def describe(self) -> str:
        return f"{self.repo}:{','.join(self.views)} by {self.entity}"


class EndpointRequest(BaseModel):
    """What to serve: a frozen value that `deploy` and `update` take.

    Example:
        >>> EndpointRequest(name="cheater-api", model="cheater-detector@champion").routes()
        [('cheater-detector@champion', 100)]
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    model: str
    canary: str | None = None
    canary_percent: int = Field(default=0, ge=0, le=100)
    port: int | None = Field(default=None, ge=1, le=65535)
    max_batch_rows: int = Field(default=DEFAULT_MAX_BATCH_ROWS, ge=1)
    max_body_bytes: int = Field(default=DEFAULT_MAX_BODY_BYTES, ge=1024)
    runtime: Literal["tessera", "tessera-runtime", "mlserver"] = "tessera"
    compiled: bool = True  # serve through ONNX Runtime where the compiled model answers like the native one
    features: FeatureLookup | None = None  # requests carry ids; the server reads their features from Feast
    log_sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)  # share of requests in the prediction log
    resources: Resources = Resources()
    namespace: str = "default"

    @field_validator("name")
    @classmethod
    def _dns_name(cls, name: str) -> str:
        if not NAME_PATTERN.fullmatch(name):
            raise ValueError(
                f"endpoint name '{name}' must be lower-case letters, digits and '-', start with a letter "
                "and be at most 63 characters (it becomes a DNS name on a cluster)"
            )
        return name

    @field_validator("model", "canary")
    @classmethod
    def _model_ref(cls, ref: str | None) -> str | None:
        if ref is not None:
            name, version, alias = parse_model_ref(ref)
            if not name or (version is None and alias is None):
                raise ValueError(f"model '{ref}' must name a version or an alias: MODEL/VERSION or MODEL@ALIAS")
        return ref

    @model_validator(mode="after")
    def _canary_split(self) -> EndpointRequest:
        if self.canary is None and self.canary_percent:
            raise ValueError("canary_percent is set but no canary model is given (--canary MODEL/VERSION)")
        if self.canary is not None and not 0 < self.canary_percent < 100:
            raise ValueError("a canary needs a percent between 1 and 99 (--percent 10)")
        return self

    def routes(self) -> list[tuple[str, int]]:
        """(model ref, percent of traffic) for the primary and, if any, the canary."""
        if self.canary is None:
            return [(self.model, 100)]
        return [(self.model, 100 - self.canary_percent), (self.canary, self.canary_percent)]


class Route(BaseModel):
    """One model version an endpoint serves and its share of requests."""

    model_config = ConfigDict(frozen=True)
    ref: str
    model_name: str
    version: str
    percent: int


class Endpoint(BaseModel):
    """What a target reports about an endpoint now."""

    model_config = ConfigDict(frozen=True)
    name: str
    target: str
    status: str
    url: str
    request: EndpointRequest
    routes: tuple[Route, ...] = ()
    message: str = ""
    token: str | None = None  # only in the answer to `deploy`; stored hashed
    pid: int | None = None

    def version_summary(self) -> str:
        return ", ".join(f"{r.model_name}/{r.version} {r.percent}%" for r in self.routes) or "-"


class EndpointTarget(Protocol):
    """Where endpoints run. Every target keeps this contract (tests/serving/test_target_contract.py):

    - `deploy(request)` creates the endpoint and returns it with a fresh bearer `token` (shown
      once, stored hashed); a name already in use is refused with EndpointError, nothing changed.
    - `update(name, request)` moves the endpoint to other versions or another split in place;
      requests keep being answered during the move. If the move fails the endpoint keeps what it
      served before and EndpointError says why.
    - `promote(name)` makes the canary the only version; `rollback(name)` drops the canary, or,
      without one, goes back to the version served before the last change.
    - `rotate_token(name)` issues a new bearer token, returned once; the old one is refused from then on.
    - `status(name)` and `list()` report routes (concrete versions, an alias resolved) and status;
      an unknown name is an EndpointError with a did-you-mean.
    - `delete(name)` stops serving and forgets the endpoint; deleting an unknown name is a no-op.
    """

    kind: str

    def deploy(self, request: EndpointRequest) -> Endpoint: ...

    def update(self, name: str, request: EndpointRequest) -> Endpoint: ...

    def promote(self, name: str) -> Endpoint: ...

    def rollback(self, name: str) -> Endpoint: ...

    def rotate_token(self, name: str) -> Endpoint: ...

    def status(self, name: str) -> Endpoint: ...

    def list(self) -> list[Endpoint]: ...

    def delete(self, name: str) -> None: ...
