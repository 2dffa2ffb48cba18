"""An endpoint's server process: kserve's ModelServer app, Tessera's front door, one uvicorn worker.

Started by the local target as `python -m serving.model_server WORKSPACE ENDPOINT` (and by the
runtime image on a cluster). It loads what the endpoint registry says to serve, then:

- SIGHUP: re-read the registry and hot-swap to the versions it names (the CLI sends it);
- every `--poll` seconds: follow aliases that moved (`models promote` elsewhere);
- SIGTERM / SIGINT: readiness answers 503 for `--drain` seconds so balancers stop sending,
  then uvicorn stops accepting and lets in-flight requests finish; a second signal exits now.

kserve parses the process's argv when imported and binds 0.0.0.0 whatever it is asked, so this
module imports it with a clean argv (`import_kserve`) and runs uvicorn itself on the host asked
(127.0.0.1 by default) with kserve's app behind the front door.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import logging
import os
import signal
import sys
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from serving.endpoint_registry import EndpointRegistry
from serving.front_door import FrontDoor
from serving.model_registry import ModelRegistry
from serving.served_model import load_served_model
from serving.traffic import EndpointState, TrafficController

log = logging.getLogger("tessera.endpoint")


def import_kserve() -> ModuleType:
    """`kserve`, imported without letting it parse this process's command line."""
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        import kserve
        import kserve.model_server  # noqa: F401  (builds kserve's FastAPI app)
        import kserve.protocol.rest.server  # noqa: F401
    finally:
        sys.argv = saved
    return kserve


def kserve_app(state: EndpointState) -> Any:
    """kserve's FastAPI app with its V1/V2 routes, health, model list and `/metrics`, serving our model."""
    kserve = import_kserve()
    from kserve.protocol.rest.server import RESTServer

    class EndpointModel(kserve.Model):  # type: ignore[misc,name-defined]
        """The endpoint as kserve's registry sees it: ready while it has a traffic table."""

        def __init__(self) -> None:
            super().__init__(state.name)
            self.ready = True

        async def healthy(self) -> bool:
            return not state.draining

    server = kserve.ModelServer(enable_grpc=False, enable_docs_url=False, enable_latency_logging=False)
    server.register_model(EndpointModel())
    rest = RESTServer(
        "kserve.model_server:app", server.dataplane, server.model_repository_extension, http_port=0, grace_period=5
    )
    rest.create_application()
    return kserve.model_server.app


class DrainingServer:
    """uvicorn, told to stop only after readiness has said 503 for `drain_seconds`."""

    def __init__(self, app: Any, host: str, port: int, state: EndpointState, drain_seconds: float):
        import uvicorn

        self.state = state
        self.drain_seconds = drain_seconds
        config = uvicorn.Config(
            app, host=host, port=port, loop="uvloop", http="httptools", log_config=None, access_log=False,
            timeout_graceful_shutdown=30, timeout_keep_alive=65, lifespan="on",
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.server.handle_exit = self.handle_exit  # type: ignore[method-assign]

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.state.draining:  # second signal: stop now
            self.server.should_exit = True
            self.server.force_exit = sig == signal.SIGINT
            return
        log.info("signal %s: draining for %.1fs, then stopping", sig, self.drain_seconds)
        self.state.draining = True
        asyncio.get_event_loop().call_later(self.drain_seconds, setattr, self.server, "should_exit", True)

    async def serve(self) -> None:
        await self.server.serve()


async def _serve(server: DrainingServer, controller: TrafficController, poll_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, controller.wake)
    watcher = asyncio.create_task(controller.watch(poll_seconds))
    try:
        await server.serve()
    finally:
        watcher.cancel()


def run(
    registry: EndpointRegistry,
    name: str,
    tracking_uri: str,
    host: str,
    poll_seconds: float,
    drain_seconds: float,
    sync_tags: bool = True,
    predictions: Path | None = None,
) -> None:
    """Serve endpoint `name` until stopped; with `predictions` (a folder), log what it answers there."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before any model library starts its thread pool
    record = registry.get(name)
    load = functools.partial(
        load_served_model, compile_models=record.request.compiled, features=record.request.features
    )
    controller = TrafficController(name, registry, ModelRegistry(tracking_uri), load=load, sync_tags=sync_tags)
    state = controller.start()
    if predictions is not None and record.request.log_sample_rate > 0:
        from serving.prediction_log import PredictionLog

        state.prediction_log = PredictionLog(predictions, name, record.request.log_sample_rate, own_process=True)
    _quiet_native_libraries()
    app = FrontDoor(kserve_app(state), state)
    # What is loaded now (MLflow, the model, its libraries: hundreds of thousands of objects) lives as long
    # as the server: keep it out of the collector's full passes, which the prediction log's batches of
    # short-lived records would otherwise trigger every few seconds (each pass a pause for every request).
    gc.collect()
    gc.freeze()
    port = record.port or 8080
    log.info("endpoint %s on http://%s:%s serving %s", name, host, port, state.traffic.routes)
    asyncio.run(_serve(DrainingServer(app, host, port, state, drain_seconds), controller, poll_seconds))
    if state.prediction_log is not None:
        state.prediction_log.close()
    log.info("endpoint %s stopped", name)


def _quiet_native_libraries() -> None:
    """One request is one small matrix: native thread pools only add latency, and feature-name
    warnings (the fast path passes a numpy matrix to a model fitted on a DataFrame) only add noise."""
    warnings.filterwarnings("ignore", message="X does not have valid feature names")
    warnings.filterwarnings("ignore", message="ORJSONResponse is deprecated")  # inside kserve's routes
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)  # one line per health check otherwise
    import sklearn
    from threadpoolctl import threadpool_limits

    sklearn.set_config(assume_finite=True)  # the decoder has already refused NaN and infinity
    threadpool_limits(1)


def standalone_registry(
    name: str, model: str, port: int, max_batch_rows: int, compiled: bool = True, features: Any = None
) -> EndpointRegistry:
    """A one-endpoint registry in a temporary folder, for a server in a pod (no workspace there):
    the model comes from the command line, the token hash from `TESSERA_TOKEN_HASH`."""
    import tempfile

    from serving.endpoint_registry import EndpointRecord
    from serving.endpoints import EndpointRequest

    registry = EndpointRegistry(Path(tempfile.mkdtemp(prefix="tessera-endpoint-")) / "endpoints.db")
    request = EndpointRequest(
        name=name, model=model, port=port, max_batch_rows=max_batch_rows, compiled=compiled, features=features
    )
    token_digest = os.environ.get("TESSERA_TOKEN_HASH", "")
    registry.create(
        EndpointRecord(
            name=name, target="kserve", request=request, status="starting", port=port, token_hash=token_digest
        )
    )
    return registry


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.model_server", description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path, nargs="?", help="workspace whose endpoint registry to serve from")
    parser.add_argument("endpoint", nargs="?")
    parser.add_argument("--standalone", metavar="NAME", help="serve without a workspace (in a pod): endpoint name")
    parser.add_argument("--model", help="with --standalone: MODEL/VERSION or MODEL@ALIAS")
    parser.add_argument("--port", type=int, default=8080, help="with --standalone")
    parser.add_argument("--max-batch-rows", type=int, default=10_000, help="with --standalone")
    parser.add_argument("--no-compiled", action="store_true", help="with --standalone: serve the native model")
    parser.add_argument("--features", help="with --standalone: score by id, REPO:VIEW[,VIEW…] (REPO in the pod)")
    parser.add_argument("--entity", default="player_id", help="with --features: the id column requests carry")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between checks for a moved alias")
    parser.add_argument("--drain", type=float, default=1.0, help="seconds readiness says 503 before stopping")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.standalone:
        if not args.model:
            parser.error("--standalone needs --model MODEL/VERSION")
        from serving.endpoints import FeatureLookup

        lookup = FeatureLookup.parse(args.features, args.entity) if args.features else None
        registry = standalone_registry(
            args.standalone, args.model, args.port, args.max_batch_rows, compiled=not args.no_compiled, features=lookup
        )
        tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
        run(registry, args.standalone, tracking_uri, args.host, args.poll, args.drain, sync_tags=False)
        return
    if args.workspace is None or args.endpoint is None:
        parser.error("give WORKSPACE ENDPOINT, or --standalone NAME --model REF")
    from tessera.workspace import load_workspace

    workspace = load_workspace(args.workspace)
    os.environ.update(workspace.component_environment())
    registry = EndpointRegistry(workspace.state_dir / "endpoints.db")
    from serving.prediction_log import predictions_folder

    predictions = predictions_folder(workspace.state_dir, args.endpoint)
    run(registry, args.endpoint, workspace.tracking_uri(), args.host, args.poll, args.drain, predictions=predictions)


if __name__ == "__main__":
    main()
