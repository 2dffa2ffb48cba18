"""Serving throughput, side by side in one run, on the models users have.

Models (trained here on the demo's player table, one-hot encoded to its 30 columns, logged the way
the train components log them): the demo's champion kind (HistGradientBoosting), LightGBM,
LogisticRegression and the torch MLP. Servers, one worker each, all on the same registered version:

- tessera: the endpoint as deployed (compiled through ONNX Runtime where it checks out; pyfunc for torch);
- tessera native: the same endpoint deployed with `--no-compiled` (the estimator itself);
- mlflow serve: `mlflow models serve --env-manager local`;
- stock kserve: kserve's ModelServer with a `kserve.Model` wrapping the MLflow pyfunc.

Load: wrk, one thread, concurrency 8, single-row and 100-row requests; a warm-up, then the median
of three runs. Also the in-process floor of each adapter (one row, no HTTP).

    .venv/bin/python benchmarks/serving.py [--seconds 4] [--models hgb,lightgbm,logistic,torch]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STOCK_KSERVE = """
import sys
sys.argv = sys.argv[:1]
import kserve, mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model("models:/MODEL/1")
columns = [c.name for c in model.metadata.get_input_schema().inputs]
class Pyfunc(kserve.Model):
    def __init__(self):
        super().__init__("MODEL"); self.ready = True
    def predict(self, payload, headers=None, response_headers=None):
        frame = pd.DataFrame(payload["instances"], columns=columns)
        return {"predictions": model.predict(frame).tolist()}
kserve.ModelServer(http_port=PORT, enable_grpc=False, enable_latency_logging=False).start([Pyfunc()])
"""
CONNECTIONS = 8


def demo_features(players: int = 5000) -> tuple[Any, Any]:
    """The demo's player table as its champion sees it: medians filled, country and platform one-hot."""
    import pandas as pd

    from component_store.runtime.player_risk import player_risk_table

    frame = player_risk_table(players).drop(columns="player_id")
    target = frame.pop("is_cheater").astype(int)
    features = pd.get_dummies(frame, columns=["country", "platform"], prefix_sep="=", dtype="float64")
    return features.fillna(features.median()).astype("float64"), target


def train(kind: str, features: Any, target: Any) -> tuple[Any, str]:
    """A fitted model and the flavour it is logged as."""
    from component_store.runtime.models import build_estimator

    if kind == "torch":
        from component_store.runtime.torch_tabular import train_mlp

        settings = {"hidden_sizes": [64, 32], "dropout": 0.1, "learning_rate": 1e-3, "batch_size": 256}
        settings |= {"validation_share": 0.2, "class_weight": "balanced", "seed": 0, "epochs": 20, "patience": 5}
        return train_mlp(features, target, "classification", device="cpu", **settings), "pyfunc"
    family = {"hgb": "hist_gradient_boosting", "lightgbm": "lightgbm", "logistic": "logistic"}[kind]
    params = {"hgb": {"max_iter": 200, "max_depth": 8}, "lightgbm": {"n_estimators": 300}, "logistic": {}}[kind]
    return build_estimator("classification", family, params, "balanced", 0).fit(features, target), "sklearn"


def register(kind: str, model: Any, flavour: str, features: Any, root: Path) -> None:
    import mlflow

    from component_store.runtime.models import log_model

    if flavour == "sklearn":
        artifact = SimpleNamespace(path=str(root / kind), metadata={})
        with mlflow.start_run(run_name=kind):
            info = log_model(model, features, "classification", artifact, {})
    else:
        from mlflow.models import infer_signature

        from component_store.runtime.torch_tabular import TorchTabularModel, predict, save_network
        from serving.predictor import contract_metadata

        with mlflow.start_run(run_name=kind), tempfile.TemporaryDirectory() as tmp:
            sample = features.head(200)
            info = mlflow.pyfunc.log_model(
                name="model", python_model=TorchTabularModel(), artifacts=save_network(model, Path(tmp)),
                signature=infer_signature(sample, predict(model.network, model.config, sample)),
                input_example=features.head(3), metadata=contract_metadata("classification", model.config.classes),
            )  # fmt: skip
    mlflow.register_model(info.model_uri, kind)


def floors(kind: str, rows: list[list[float]]) -> dict[str, tuple[float, float]]:
    """Microseconds per predict in process, per adapter: (one row, 100 rows)."""
    import numpy as np

    from serving.served_model import load_served_model

    served = {"tessera": load_served_model(kind, "1")}
    if served["tessera"].predictor.adapter == "compiled":
        served["tessera native"] = load_served_model(kind, "1", compile_models=False)
    result = {}
    for name, model in served.items():
        timings = []
        for matrix, calls in ((np.array(rows[:1]), 2000), (np.array(rows[:100]), 200)):
            for _ in range(calls // 10):
                model.predict(matrix)
            started = time.perf_counter()
            for _ in range(calls):
                model.predict(matrix)
            timings.append((time.perf_counter() - started) / calls * 1e6)
        result[f"{name} ({model.predictor.adapter})"] = (timings[0], timings[1])
    return result


def wait_ready(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} not ready")


def wrk(
    url: str, body: str, headers: dict[str, str], seconds: int, connections: int = CONNECTIONS, cpu: int | None = None
) -> dict[str, float]:
    """One wrk run (on CPU `cpu` alone, if given): throughput, p50 and p99 latency, errors."""
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        [*(["taskset", "-c", str(cpu)] if cpu is not None else []), "wrk", "-t1", f"-c{connections}",
         f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "p50": ms("50%"), "p99": ms("99%"),
        "errors": (int(errors[1]) if errors else 0) + (1 if socket_errors else 0),
    }  # fmt: skip


def measured(
    url: str, body: str, headers: dict[str, str], seconds: int, connections: int = CONNECTIONS
) -> dict[str, float]:
    """A warm-up run, then the median of three (by throughput; its p99 with it)."""
    wrk(url, body, headers, max(2, seconds // 2), connections)
    runs = sorted((wrk(url, body, headers, seconds, connections) for _ in range(3)), key=lambda r: r["rps"])
    median = runs[1]
    return median | {"errors": sum(r["errors"] for r in runs)}


def serve_peers(kind: str, root: Path, ports: tuple[int, int], env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    mlflow_port, kserve_port = ports
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    mlflow_serve = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{kind}/1", "--env-manager", "local",
         "-p", str(mlflow_port), "-h", "127.0.0.1", "-w", "1"], env=env, **quiet,
    )  # fmt: skip
    script = root / f"stock_kserve_{kind}.py"
    script.write_text(STOCK_KSERVE.replace("MODEL", kind).replace("PORT", str(kserve_port)))
    kserve = subprocess.Popen([sys.executable, str(script)], env=env, **quiet)
    return [mlflow_serve, kserve]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--models", default="hgb,lightgbm,logistic,torch")
    parser.add_argument("--floors-only", action="store_true", help="only the in-process floors, no servers")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # feature-name warnings from in-process floors on bare matrices
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    import mlflow

    from serving.endpoints import EndpointRequest
    from serving.local_target import LocalProcessTarget
    from tessera.workspace import init_workspace

    root = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    workspace = init_workspace(root, name="bench")
    os.environ.update(workspace.component_environment())
    mlflow.set_tracking_uri(workspace.tracking_uri())
    mlflow.set_experiment("bench")
    features, target = demo_features()
    one = features.head(1).to_numpy().tolist()
    hundred = features.head(100).to_numpy().tolist()
    columns = list(features.columns)
    env = os.environ | {"OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    target_ = LocalProcessTarget(workspace)
    print(f"{len(columns)} columns; wrk -t1 -c{CONNECTIONS}, {args.seconds}s runs, warm-up + median of 3\n")
    rows_out = []
    floor_out = []
    for number, kind in enumerate(args.models.split(",")):
        model, flavour = train(kind, features, target)
        register(kind, model, flavour, features, root)
        floor_out += [(kind, name, us) for name, us in floors(kind, hundred).items()]
        if args.floors_only:
            continue
        endpoints = {"tessera": target_.deploy(EndpointRequest(name=f"{kind}-api", model=f"{kind}/1"))}
        if flavour == "sklearn":
            endpoints["tessera native"] = target_.deploy(
                EndpointRequest(name=f"{kind}-native", model=f"{kind}/1", compiled=False)
            )
        ports = (8917 + 2 * number, 8918 + 2 * number)
        peers = serve_peers(kind, root, ports, env)
        try:
            wait_ready(f"http://127.0.0.1:{ports[0]}/ping")
            wait_ready(f"http://127.0.0.1:{ports[1]}/v2/health/ready")
            json_header = {"Content-Type": "application/json"}
            contenders = {
                name: (f"{e.url}/v1/models/{e.name}:predict", json_header | {"Authorization": f"Bearer {e.token}"})
                for name, e in endpoints.items()
            }
            contenders["mlflow serve"] = (f"http://127.0.0.1:{ports[0]}/invocations", json_header)
            contenders["stock kserve+pyfunc"] = (f"http://127.0.0.1:{ports[1]}/v1/models/{kind}:predict", json_header)
            for batch_name, batch in (("1", one), ("100", hundred)):
                for name, (url, headers) in contenders.items():
                    body = (
                        {"dataframe_split": {"columns": columns, "data": batch}}
                        if name == "mlflow serve"
                        else {"instances": batch}
                    )
                    result = measured(url, json.dumps(body), headers, args.seconds)
                    rows_out.append((kind, batch_name, name, result))
                    print(f"  {kind} {batch_name} row(s) {name}: {result['rps']:.0f} req/s p99 {result['p99']:.2f} ms")
        finally:
            for peer in peers:
                peer.terminate()
            for endpoint in endpoints.values():
                target_.delete(endpoint.name)
    if rows_out:
        print("\n| model | rows | server | req/s | p50 ms | p99 ms | errors | tessera ÷ this |")
        print("|---|---|---|---|---|---|---|---|")
    for kind, batch_name, name, r in rows_out:
        ours = next(x for k, b, n, x in rows_out if k == kind and b == batch_name and n == "tessera")
        print(
            f"| {kind} | {batch_name} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']:.0f} "
            f"| {ours['rps'] / r['rps']:.1f}× |"
        )
    print("\n| model | adapter | µs per predict in process, 1 row | 100 rows |")
    print("|---|---|---|---|")
    for kind, name, (single, batch) in floor_out:
        print(f"| {kind} | {name} | {single:.1f} | {batch:.0f} |")


if __name__ == "__main__":
    main()
