"""What the prediction log adds to one request in the serving process, with no HTTP in between.

The throughput figure of benchmarks/monitoring.py moves by several points between runs on a small
machine (wrk, the kernel and the server share two CPUs); this one does not need the network. The demo's
champion kind (HistGradientBoosting on the demo's player table, 30 columns) is registered and an endpoint
record made, then the endpoint's own front door (serving/front_door.py) and its own prediction log (with
its writer process) are built in this process, as `python -m serving.model_server` builds them, and
driven request after request through ASGI: blocks of requests with the log on and off in turns, the CPU
time of this process (the request path and the log's writer thread; the writer process is another) per
request, a warm-up, then the median of the paired differences.

    .venv/bin/python benchmarks/log_request_path.py [--rounds 24] [--block 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.monitoring import champion_workspace  # noqa: E402


def endpoint_in_process() -> tuple[Any, Any, Any, str, Any]:
    """(the front door, its state, the prediction log, the endpoint's token, the demo's features)."""
    from serving.endpoint_registry import EndpointRegistry
    from serving.front_door import FrontDoor
    from serving.model_registry import ModelRegistry
    from serving.model_server import _quiet_native_libraries, kserve_app
    from serving.prediction_log import PredictionLog
    from serving.served_model import load_served_model
    from serving.traffic import TrafficController
    from tessera.workspace import load_workspace

    root, ws, features = champion_workspace("bench-log-path-")
    ws.endpoints.deploy("log-path", "bench@champion", log_sample_rate=1.0)
    ws.endpoint("log-path").stop()  # only its record is used: the server is built here
    token = (root / "ws/.tessera/endpoints/log-path.token").read_text().strip()

    workspace = load_workspace(root / "ws")
    os.environ.update(workspace.component_environment())
    registry = EndpointRegistry(workspace.state_dir / "endpoints.db")
    record = registry.get("log-path")
    load = functools.partial(
        load_served_model, compile_models=record.request.compiled, features=record.request.features
    )
    state = TrafficController("log-path", registry, ModelRegistry(workspace.tracking_uri()), load=load).start()
    prediction_log = PredictionLog(root / "predictions", "log-path", 1.0, own_process=True)
    _quiet_native_libraries()
    front_door = FrontDoor(kserve_app(state), state)
    gc.collect()
    gc.freeze()  # as model_server does
    return front_door, state, prediction_log, token, features


def request(token: str, features: Any, rows: int) -> tuple[dict[str, Any], bytes]:
    """A V1 request of `rows` rows: its ASGI scope and body."""
    body = json.dumps({"instances": features.head(rows).to_numpy().tolist()}).encode()
    scope = {
        "type": "http", "method": "POST", "path": "/v1/models/log-path:predict",
        "headers": [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    return scope, body


async def cpu_per_request(front_door: Any, scope: dict[str, Any], body: bytes, requests: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    started = time.process_time()
    for _ in range(requests):
        await front_door(scope, receive, send)
    return (time.process_time() - started) / requests * 1e6


async def measure(
    front_door: Any, state: Any, prediction_log: Any, scope: dict[str, Any], body: bytes, rounds: int, block: int
) -> dict[str, float]:
    state.prediction_log = prediction_log
    await cpu_per_request(front_door, scope, body, block)  # warm-up
    runs: dict[str, list[float]] = {"on": [], "off": []}
    for round_ in range(rounds):
        for label in ("on", "off")[:: 1 if round_ % 2 == 0 else -1]:
            state.prediction_log = prediction_log if label == "on" else None
            runs[label].append(await cpu_per_request(front_door, scope, body, block))
    off = statistics.median(runs["off"])
    added = statistics.median(on - off for on, off in zip(runs["on"], runs["off"], strict=True))
    return {"off_us": off, "on_us": statistics.median(runs["on"]), "added_us": added, "share": added / off}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=24)
    parser.add_argument("--block", type=int, default=2000, help="single-row requests a block (a tenth for 100 rows)")
    args = parser.parse_args()
    front_door, state, prediction_log, token, features = endpoint_in_process()
    print("CPU per request in the serving process, front door driven in process (median of paired blocks)")
    print(f"{'request':<10} {'log off µs':>11} {'log on µs':>10} {'added µs':>9} {'share':>7}")
    for rows, block in ((1, args.block), (100, max(args.block // 10, 1))):
        scope, body = request(token, features, rows)
        result = asyncio.run(measure(front_door, state, prediction_log, scope, body, args.rounds, block))
        print(
            f"{rows:>3} row{'s' if rows > 1 else ' '}   {result['off_us']:>11.1f} {result['on_us']:>10.1f} "
            f"{result['added_us']:>9.2f} {result['share']:>7.1%}"
        )
    prediction_log.close()


if __name__ == "__main__":
    main()
