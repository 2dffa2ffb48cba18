"""Components that only tests use: one that takes its time, one that fails until told not to, one with
parameter outputs."""

from typing import NamedTuple

from kfp.dsl import Dataset, Input, Metrics, Output

from component_store.decorator import component


@component(name="sleepy", version="1.0.0", category="transform", owner="tests")
def sleepy(table: Input[Dataset], copied: Output[Dataset], seconds: float = 30.0, unless_exists: str = ""):
    """Wait, then pass the table on.

    Args:
        table: the input table.
        copied: the same table.
        seconds: how long to wait first.
        unless_exists: a file whose presence skips the wait.
    """
    import os
    import shutil
    import time

    if not (unless_exists and os.path.exists(unless_exists)):
        time.sleep(seconds)
    shutil.copyfile(table.path, copied.path)


@component(name="flaky", version="1.0.0", category="transform", owner="tests")
def flaky(table: Input[Dataset], passed: Output[Dataset], marker: str):
    """Fail unless a marker file exists, then pass the table on.

    Args:
        table: the input table.
        passed: the same table.
        marker: the file whose presence lets it succeed.
    """
    import os
    import shutil

    if not os.path.exists(marker):
        raise RuntimeError(f"flaky: marker {marker} is missing")
    shutil.copyfile(table.path, passed.path)


@component(name="measure", version="1.0.0", category="validate", owner="tests")
def measure(table: Input[Dataset], at_least: int = 100) -> NamedTuple("Measured", [("size", str), ("rows", int)]):  # noqa: UP014
    """Say whether a table is big: parameter outputs that conditions read.

    Args:
        table: the table to count.
        at_least: rows from which the table is big.
    """
    import pandas as pd

    rows = len(pd.read_parquet(table.path))
    return ("big" if rows >= at_least else "small", rows)


@component(name="positive_share", version="1.0.0", category="evaluate", owner="tests")
def positive_share(table: Input[Dataset], metrics: Output[Metrics], label: str, weight: float = 1.0):
    """The share of positive labels in a table, times a weight: a Metrics output that costs nothing.

    Args:
        table: the table.
        metrics: share (times weight) and rows.
        label: the 0/1 label column.
        weight: what to multiply the share by.
    """
    import pandas as pd

    frame = pd.read_parquet(table.path)
    metrics.log_metric("share", float(frame[label].mean()) * weight)
    metrics.log_metric("rows", len(frame))


@component(name="split_sizes", version="1.0.0", category="data", owner="tests")
def split_sizes(parts: int = 2, start: int = 40) -> NamedTuple("Sizes", [("sizes", list), ("count", int)]):  # noqa: UP014
    """Row counts for a loop to run over: a list parameter output.

    Args:
        parts: how many sizes.
        start: the first size; each next one is 20 more.
    """
    sizes = [start + 20 * i for i in range(parts)]
    return (sizes, len(sizes))
