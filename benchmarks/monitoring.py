"""Monitoring costs, in one run:

1. What logging every prediction costs an endpoint: the demo's champion kind (HistGradientBoosting on
   the demo's player table, 30 columns) served twice from the same registered version, one endpoint
   logging every request (`log_sample_rate` 1.0), one logging none (0.0); wrk, one thread, concurrency 8,
   single-row and 100-row requests; a warm-up, then fifteen rounds, each running the two endpoints back to
   back (in turns, which one first); the cost is the median of the rounds' costs. With two CPUs or more,
   wrk runs on the first and the endpoints on the last (`pin_apart`).
2. A drift report over 1,000,000 logged rows × 40 columns (30 numeric, 10 categorical) read from the
   prediction log's Parquet files: wall time and peak memory (a fresh process each time; warm-up, then
   the median of three), for a small reference (≤ 1,000 training rows: KS, chi-squared) and a large one
   (Wasserstein, Jensen–Shannon).

    .venv/bin/python benchmarks/monitoring.py [--seconds 3] [--rows 1000000] [--only logging|drift]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.serving import demo_features, wait_ready, wrk  # noqa: E402

REPORT = """
import json, resource, sys, time
from pathlib import Path
import pandas as pd
from serving.drift import dataset_drift
from serving.monitoring import log_columns, logged_inputs, read_log
folder, reference_rows = Path(sys.argv[1]), int(sys.argv[2])
started = time.perf_counter()
# what monitor_report does: read the window's input columns, compare them with the reference
logged = read_log(folder, 0, None, [c for c in log_columns(folder) if c.startswith("input:")])
current = logged_inputs(logged)
reference = pd.read_parquet(folder.parent / "reference.parquet")
report = dataset_drift(reference, current, reference_rows)
seconds = time.perf_counter() - started
print(json.dumps({"seconds": seconds, "rows": len(current), "columns": len(report["columns"]),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "drifted": sum(c["drifted"] for c in report["columns"])}))
"""


def pin_apart(server_pids: list[int | None]) -> int | None:
    """Each endpoint's threads on the last CPU and wrk (the CPU returned) on the first, where there are two:
    the load generator and the server then never take turns on one core, the largest noise between runs
    here. The prediction log's writer process is left where the kernel puts it, as in production."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2 or None in server_pids:
        return None
    for pid in server_pids:
        for thread in os.listdir(f"/proc/{pid}/task"):
            os.sched_setaffinity(int(thread), {cpus[-1]})
    return cpus[0]


def champion_workspace(prefix: str) -> tuple[Path, Any, Any]:
    """A new workspace (in a temporary folder) with the demo's champion kind registered as `bench@champion`:
    (the folder, the workspace, the demo's features)."""
    import tessera
    from component_store.runtime.models import build_estimator
    from tessera.workspace import init_workspace

    root = Path(tempfile.mkdtemp(prefix=prefix))
    ws = tessera.open(init_workspace(root / "ws").root)
    features, target = demo_features()
    model = build_estimator(
        "classification", "hist_gradient_boosting", {"max_iter": 200, "max_depth": 8}, "balanced", 0
    )
    model.fit(features, target)
    ws.models.register(model, "bench", features=features, alias="champion")
    return root, ws, features


def logging_overhead(
    seconds: int, request_sizes: tuple[int, ...] = (1, 100), rounds: int = 15
) -> dict[str, dict[str, dict[str, float]]]:
    root, ws, features = champion_workspace("bench-monitoring-")
    endpoints = {
        "logging on": ws.endpoints.deploy("log-on", "bench@champion", log_sample_rate=1.0),
        "logging off": ws.endpoints.deploy("log-off", "bench@champion", log_sample_rate=0.0),
    }
    tokens = {
        label: (root / "ws/.tessera/endpoints" / f"{e.name}.token").read_text().strip()
        for label, e in endpoints.items()
    }
    results: dict[str, dict[str, dict[str, float]]] = {}
    pinned = pin_apart([e.status().pid for e in endpoints.values()])
    try:
        for rows in request_sizes:
            body = json.dumps({"instances": features.head(rows).to_numpy().tolist()})
            asked = {}
            for label, endpoint in endpoints.items():
                wait_ready(f"{endpoint.url}/v2/health/ready")
                url = f"{endpoint.url}/v1/models/{endpoint.name}:predict"
                asked[label] = (url, {"Authorization": f"Bearer {tokens[label]}", "Content-Type": "application/json"})
                wrk(url, body, asked[label][1], max(2, seconds // 2), cpu=pinned)  # warm-up
            runs: dict[str, list[dict[str, float]]] = {label: [] for label in endpoints}
            costs = []
            for round_ in range(rounds):  # pairs back to back, in turns: a slow moment of the machine hits both
                for label in list(endpoints)[:: 1 if round_ % 2 == 0 else -1]:
                    url, headers = asked[label]
                    runs[label].append(wrk(url, body, headers, seconds, cpu=pinned))
                costs.append(1 - runs["logging on"][-1]["rps"] / runs["logging off"][-1]["rps"])
            request = f"{rows} row{'s' if rows > 1 else ''}"
            for label, measured_runs in runs.items():
                results.setdefault(request, {})[label] = sorted(measured_runs, key=lambda r: r["rps"])[rounds // 2]
            low, median, high = statistics.quantiles(costs, n=4)
            results[request]["cost"] = {"median": median, "low": low, "high": high}
        logged = sum(1 for _ in (root / "ws/.tessera/predictions/log-on").glob("date=*/part-*.parquet"))
        print(
            f"log-on wrote {logged} Parquet files; log-off wrote "
            f"{len(list((root / 'ws/.tessera/predictions/log-off').glob('date=*/part-*.parquet')))}"
        )
    finally:
        for endpoint in endpoints.values():
            ws.endpoint(endpoint.name).delete()
    return results


def fake_log(folder: Path, rows: int) -> None:
    """A prediction log of `rows` rows × 40 input columns in files of 50,000 rows, and a reference."""
    import numpy as np
    import pandas as pd

    from serving.prediction_log import write_log_file

    rng = np.random.default_rng(0)
    countries = np.array(["BR", "CN", "DE", "KR", "RU", "US", "VN", "FR", "JP", "IN"])

    def table(n: int, shift: float) -> pd.DataFrame:
        data = {f"num_{i}": rng.normal(shift if i < 5 else 0.0, 1.0, n) for i in range(30)}
        data |= {f"cat_{i}": countries[rng.integers(0, 10 - (i % 3), n)] for i in range(10)}
        return pd.DataFrame(data)

    table(1000, 0.0).to_parquet(folder.parent / "reference.parquet")
    for start in range(0, rows, 50_000):
        chunk = table(min(50_000, rows - start), 0.3).add_prefix("input:")
        chunk.insert(0, "request_id", "r")
        chunk.insert(1, "time", pd.Timestamp.now(tz="UTC"))
        write_log_file(folder, chunk)


def drift_report_cost(rows: int) -> dict[str, dict[str, float]]:
    folder = Path(tempfile.mkdtemp(prefix="bench-drift-")) / "log"
    fake_log(folder, rows)
    results = {}
    for label, reference_rows in (
        ("small reference (KS, chi-squared)", 1000),
        ("large reference (Wasserstein, JS)", 100_000),
    ):
        runs = []
        for attempt in range(4):  # the first is the warm-up (file cache, imports)
            out = subprocess.run([sys.executable, "-c", REPORT, str(folder), str(reference_rows)], capture_output=True,
                                 text=True, check=True, cwd=Path(__file__).resolve().parents[1]).stdout  # fmt: skip
            if attempt:
                runs.append(json.loads(out))
        results[label] = {
            "seconds": statistics.median(r["seconds"] for r in runs),
            "peak_mib": statistics.median(r["peak_mib"] for r in runs),
            "rows": runs[0]["rows"], "columns": runs[0]["columns"], "drifted": runs[0]["drifted"],
        }  # fmt: skip
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=3, help="of each wrk run")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["logging", "drift"], help="one half (the figures come from a whole run)")
    parser.add_argument("--request-rows", default="1,100", help="rows per request in the logging half, e.g. 1")
    args = parser.parse_args()
    started = time.time()
    if args.only != "drift":
        show_overhead(logging_overhead(args.seconds, tuple(int(n) for n in args.request_rows.split(","))))
    if args.only != "logging":
        show_drift(drift_report_cost(args.rows), args.rows)
    print(f"\n(whole benchmark {time.time() - started:.0f} s)")


def show_overhead(overhead: dict[str, dict[str, dict[str, float]]]) -> None:
    print("\nlogging cost (wrk, concurrency 8; a warm-up, then the median of fifteen rounds, on and off back to back)")
    print(f"{'request':<10} {'endpoint':<12} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for request, by_label in overhead.items():
        cost = by_label.pop("cost")
        for label, run in by_label.items():
            print(
                f"{request:<10} {label:<12} {run['rps']:>8.0f} {run['p50']:>8.2f} {run['p99']:>8.2f} {run['errors']:>7.0f}"
            )
        print(
            f"{request:<10} throughput cost of logging: {cost['median']:.1%} "
            f"(median of the rounds' costs; middle half {cost['low']:.1%} to {cost['high']:.1%})"
        )


def show_drift(drift: dict[str, dict[str, float]], rows: int) -> None:
    print(f"\ndrift report over {rows:,} logged rows × 40 columns (median of three, fresh process each)")
    for label, run in drift.items():
        print(
            f"{label:<36} {run['seconds']:>6.2f} s  peak {run['peak_mib']:>6.0f} MiB  ({run['drifted']} of {run['columns']} columns drifted)"
        )


if __name__ == "__main__":
    main()
