"""Which loaded model version answers a request, and how an endpoint moves to new versions.

`Traffic` is an immutable table (model, route, percent). The server holds one in
`EndpointState.traffic`; a request reads that attribute once and keeps its table to the end,
so replacing it is the atomic hot swap: requests in flight finish on the old versions, new
ones go to the new versions, nobody sees a half-built table.

`TrafficController.reconcile()` brings the table in line with the registry: it reads what the
endpoint should serve, resolves aliases to versions, loads the versions it does not hold yet
(in a worker thread, while requests go on), swaps, and reports back to the registry and to the
MLflow tags. A version that fails to load leaves the endpoint serving what it served.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from serving.endpoint_registry import EndpointRegistry
from serving.endpoints import EndpointRequest, Route
from serving.model_registry import ModelRegistry
from serving.served_model import ServedModel, load_served_model
from serving.serving_tags import sync_endpoint_tags

log = logging.getLogger("tessera.endpoint")


@dataclass(frozen=True)
class Traffic:
    """(loaded model, route) pairs whose percents add up to 100."""

    entries: tuple[tuple[ServedModel, Route], ...]
    revision: int

    def choose(self, draw: float | None = None) -> tuple[ServedModel, Route]:
        """The entry for a uniform draw in [0, 100) (a fresh random one when not given)."""
        point = random.random() * 100 if draw is None else draw  # noqa: S311 (a traffic split, not a secret)
        for entry in self.entries:
            point -= entry[1].percent
            if point < 0:
                return entry
        return self.entries[-1]

    @property
    def routes(self) -> list[Route]:
        return [route for _, route in self.entries]

    @property
    def primary(self) -> ServedModel:
        return self.entries[0][0]


@dataclass
class EndpointState:
    """The live, mutable state of one endpoint's server (the one object the request path reads)."""

    name: str
    traffic: Traffic
    token_hash: str
    max_body_bytes: int
    max_batch_rows: int
    draining: bool = False
    loaded: dict[tuple[str, str], ServedModel] = field(default_factory=dict)
    prediction_log: Any = None  # a serving.prediction_log.PredictionLog when the endpoint logs predictions


def resolve_routes(models: ModelRegistry, request: EndpointRequest) -> list[Route]:
    """Concrete versions for the request's refs (an alias is followed to the version it names now)."""
    routes = []
    for ref, percent in request.routes():
        info = models.resolve(ref)
        routes.append(Route(ref=ref, model_name=info.name, version=info.version, percent=percent))
    return routes


class TrafficController:
    """Keeps one endpoint's `EndpointState.traffic` equal to what its registry record asks for."""

    def __init__(
        self,
        name: str,
        registry: EndpointRegistry,
        models: ModelRegistry,
        load: Callable[[str, str], ServedModel] = load_served_model,
        sync_tags: bool = True,
    ):
        self.name = name
        self.registry = registry
        self.models = models
        self.load = load
        self.sync_tags = sync_tags  # off in a pod: its one-endpoint registry cannot see the other endpoints
        self.state: EndpointState | None = None
        self._wake = asyncio.Event()

    def start(self) -> EndpointState:
        """Load what the record asks for, before the server opens its port."""
        record = self.registry.get(self.name)
        routes = resolve_routes(self.models, record.request)
        loaded: dict[tuple[str, str], ServedModel] = {}
        traffic = self._build(routes, record.revision, loaded)
        self.state = EndpointState(
            name=self.name,
            traffic=traffic,
            token_hash=record.token_hash,
            max_body_bytes=record.request.max_body_bytes,
            max_batch_rows=record.request.max_batch_rows,
            loaded=loaded,
        )
        self._report(traffic)
        return self.state

    def wake(self) -> None:
        """Ask for a reconcile now (SIGHUP, or an alias that moved)."""
        self._wake.set()

    async def watch(self, poll_seconds: float) -> None:
        """Reconcile whenever woken, and every `poll_seconds` to follow aliases moved elsewhere."""
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            await self.reconcile()

    async def reconcile(self) -> None:
        state = self.state
        assert state is not None, "start() first"
        try:
            record = await asyncio.to_thread(self.registry.get, self.name)
            routes = await asyncio.to_thread(resolve_routes, self.models, record.request)
        except Exception as exc:  # the registry or MLflow is briefly unreachable: keep serving
            log.warning("could not read what to serve: %s", exc)
            return
        state.token_hash = record.token_hash
        state.max_batch_rows = record.request.max_batch_rows
        state.max_body_bytes = record.request.max_body_bytes
        same_routes = [r.model_dump() for r in routes] == [r.model_dump() for r in state.traffic.routes]
        if same_routes and record.revision == state.traffic.revision:
            return
        try:
            traffic = await asyncio.to_thread(self._build, routes, record.revision, state.loaded)
        except Exception as exc:
            message = f"could not load {', '.join(f'{r.model_name}/{r.version}' for r in routes)}: {exc}"
            log.error(message)
            await asyncio.to_thread(self.registry.record_error, self.name, record.revision, message)
            return
        previous_models = {r.model_name for r in state.traffic.routes}
        state.traffic = traffic  # the swap: one attribute assignment
        wanted = {(r.model_name, r.version) for r in routes}
        for key in [k for k in state.loaded if k not in wanted]:
            del state.loaded[key]
        log.info("now serving %s (revision %s)", ", ".join(_label(r) for r in routes), record.revision)
        await asyncio.to_thread(self._report, traffic, previous_models)

    def _build(self, routes: list[Route], revision: int, loaded: dict[tuple[str, str], ServedModel]) -> Traffic:
        entries = []
        for route in routes:
            key = (route.model_name, route.version)
            if key not in loaded:
                loaded[key] = self.load(route.model_name, route.version)
            entries.append((loaded[key], route))
        return Traffic(tuple(entries), revision)

    def _report(self, traffic: Traffic, previous_models: set[str] | None = None) -> None:
        self.registry.record_served(self.name, traffic.routes, traffic.revision)
        if not self.sync_tags:
            return
        try:
            sync_endpoint_tags(self.models.client, self.registry.all(), also_models=previous_models or ())
        except Exception as exc:  # tags are a view; serving must not stop because MLflow hiccuped
            log.warning("could not update the MLflow endpoint tags: %s", exc)


def _label(route: Route) -> str:
    return f"{route.model_name}/{route.version} {route.percent}%"
