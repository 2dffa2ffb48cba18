"""Serving throughput, side by side in one run on one model (breast-cancer LogisticRegression, 30 columns):
Tessera endpoint vs `mlflow models serve --env-manager local` vs stock kserve ModelServer wrapping pyfunc.
Load tool: wrk (1 thread), single-row and 100-row requests at concurrency 1, 8, 32.

    .venv/bin/python benchmarks/serving.py [--seconds 5]
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
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STOCK_KSERVE = """
import sys
sys.argv = sys.argv[:1]
import kserve, mlflow.pyfunc, pandas as pd
model = mlflow.pyfunc.load_model("models:/cancer/1")
columns = [c.name for c in model.metadata.get_input_schema().inputs]
class Pyfunc(kserve.Model):
    def __init__(self):
        super().__init__("cancer"); self.ready = True
    def predict(self, payload, headers=None, response_headers=None):
        return {"predictions": model.predict(pd.DataFrame(payload["instances"], columns=columns)).tolist()}
kserve.ModelServer(http_port=PORT, enable_grpc=False, enable_latency_logging=False).start([Pyfunc()])
"""


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready")


def wrk(url: str, body: str, headers: dict[str, str], connections: int, seconds: int) -> dict[str, float]:
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    from serving.endpoints import EndpointRequest
    from serving.local_target import LocalProcessTarget
    from serving.served_model import load_served_model
    from tessera.workspace import init_workspace
    from tests.serving.fixtures import register_cancer_versions

    root = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    workspace = init_workspace(root, name="bench")
    os.environ.update(workspace.component_environment())
    columns, rows, _ = register_cancer_versions(workspace)
    one, hundred = rows[:1], (rows * 2)[:100]

    served = load_served_model("cancer", "1")
    import numpy as np

    matrix = np.array(one)
    started = time.perf_counter()
    for _ in range(2000):
        served.predict_matrix(matrix)  # type: ignore[misc]
    floor_us = (time.perf_counter() - started) / 2000 * 1e6

    target = LocalProcessTarget(workspace)
    endpoint = target.deploy(EndpointRequest(name="bench", model="cancer/1"))
    servers = []
    mlflow_port, kserve_port = 8917, 8918
    env = os.environ | {"OMP_NUM_THREADS": "1", "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    servers.append(subprocess.Popen(
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/cancer/1", "--env-manager", "local",
         "-p", str(mlflow_port), "-h", "127.0.0.1", "-w", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))  # fmt: skip
    script = root / "stock_kserve.py"
    script.write_text(STOCK_KSERVE.replace("PORT", str(kserve_port)))
    servers.append(
        subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    )
    try:
        wait_ready(f"http://127.0.0.1:{mlflow_port}/ping")
        wait_ready(f"http://127.0.0.1:{kserve_port}/v2/health/ready")
        json_header = {"Content-Type": "application/json"}
        contenders = {
            "tessera": (
                f"{endpoint.url}/v1/models/bench:predict",
                json_header | {"Authorization": f"Bearer {endpoint.token}"},
                "instances",
            ),
            "mlflow serve": (f"http://127.0.0.1:{mlflow_port}/invocations", json_header, "dataframe_split"),
            "stock kserve+pyfunc": (
                f"http://127.0.0.1:{kserve_port}/v1/models/cancer:predict",
                json_header,
                "instances",
            ),
        }
        print(f"in-process predict floor (fast path, 1 row): {floor_us:.1f} µs\n")
        print("| rows | conc | server | req/s | p50 ms | p99 ms | errors | vs tessera |")
        print("|---|---|---|---|---|---|---|---|")
        for batch_name, batch in (("1", one), ("100", hundred)):
            for connections in (1, 8, 32):
                results = {}
                for name, (url, headers, shape) in contenders.items():
                    body = (
                        {"instances": batch}
                        if shape == "instances"
                        else {"dataframe_split": {"columns": columns, "data": batch}}
                    )
                    results[name] = wrk(url, json.dumps(body), headers, connections, args.seconds)
                for name, r in results.items():
                    ratio = r["rps"] / results["tessera"]["rps"]
                    print(
                        f"| {batch_name} | {connections} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']:.0f} | {ratio:.2f}× |"
                    )
    finally:
        for server in servers:
            server.terminate()
        target.delete("bench")


if __name__ == "__main__":
    main()
