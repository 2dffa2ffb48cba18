"""Events → player features at 1M and 5M events: `spark_aggregate` (Spark local[2]) vs the same aggregation in pandas.

    .venv/bin/python benchmarks/spark_features.py [--sizes 1000000 5000000]

Both contenders read the same Parquet event log (generate_event_log, 60 days), compute the
same 34 features per player over 1d/7d/30d windows for one snapshot, and write Parquet; the
tests check that their results are equal. Each runs in a fresh process; its wall time is
the whole call a workflow node makes (Spark's JVM start included), and its peak memory is
the largest resident size of its whole process tree (Python plus Spark's JVM), sampled
every 50 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
PLAYERS_PER_MILLION = 3_220  # ≈ 310 events per player over 60 days

SPARK = """
from types import SimpleNamespace
from component_store.components.spark_aggregate import spark_aggregate
spark_aggregate(
    events=SimpleNamespace(path={events!r}, metadata={{}}),
    features=SimpleNamespace(path={out!r}, metadata={{}}),
    master="local[2]", driver_memory="4g", shuffle_partitions=4,
)
"""
PANDAS = """
import pandas as pd
from component_store.runtime.event_features import EventAggregation, aggregate_events_pandas, snapshot_times
events = pd.read_parquet({events!r})
spec = EventAggregation.build(
    "player_id", "event_time", "event_type", sorted(events["event_type"].unique()),
    ["amount", "score"], ["device_id"], ["1d", "7d", "30d"], snapshot_times(events["event_time"].max(), "", 1, "7d"),
)
aggregate_events_pandas(events, spec).to_parquet({out!r}, index=False)
"""


def measure(code: str) -> tuple[float, float]:
    """(wall seconds, peak MiB of the process tree) of `python -c code`."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO, stderr=subprocess.DEVNULL)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if process.wait() != 0:
        raise SystemExit(f"contender failed: {code}")
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    return wall, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    args = parser.parse_args()
    sys.path.insert(0, str(REPO))
    from component_store.runtime.event_log import event_log

    print("| events | contender | wall s | peak MiB | time vs pandas | memory vs pandas |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            frame = event_log(players=size * PLAYERS_PER_MILLION // 1_000_000, days=60, seed=1)
            events = str(Path(tmp) / f"events-{size}.parquet")
            frame.to_parquet(events, index=False, coerce_timestamps="us")
            rows = len(frame)
            del frame
            results = {
                "pandas": measure(PANDAS.format(events=events, out=str(Path(tmp) / "pandas.parquet"))),
                "spark_aggregate local[2]": measure(SPARK.format(events=events, out=str(Path(tmp) / "spark"))),
            }
            base_wall, base_peak = results["pandas"]
            for name, (wall, peak) in results.items():
                print(
                    f"| {rows:,} | {name} | {wall:.1f} | {peak:,.0f} | {wall / base_wall:.2f}× | {peak / base_peak:.2f}× |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
