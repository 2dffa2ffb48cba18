"""Spark for components: a session from component params, reading sources, the event aggregation.

Everything here imports pyspark inside its functions, and says what to install when
pyspark or Java is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from component_store.runtime.event_features import SNAPSHOT_COLUMN, EventAggregation

_MEMORY = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)
_MASTER = re.compile(r"^(local(\[(\d+|\*)\])?|spark://.+|k8s://.+|yarn)$")


def check_spark_settings(master: str, driver_memory: str, executor_memory: str) -> None:
    """Refuse a master URL or a memory size that Spark would reject later, less clearly."""
    if not _MASTER.match(master):
        raise ValueError(
            f"master: '{master}' is not a Spark master URL; use local[*], local[N], "
            "spark://HOST:PORT, k8s://https://HOST:PORT or yarn"
        )
    for name, value in (("driver_memory", driver_memory), ("executor_memory", executor_memory)):
        if not _MEMORY.match(value):
            raise ValueError(f"{name}: '{value}' is not a Spark memory size; write e.g. 512m, 2g or 8g")


def require_spark(component: str) -> Any:
    """The pyspark module, or an error that says what to install (pyspark itself, or Java)."""
    try:
        import pyspark
    except ImportError:
        raise RuntimeError(
            f"PySpark is needed for '{component}'; install it with: pip install \"tessera[spark]\""
        ) from None
    java_home = os.environ.get("JAVA_HOME")
    if not (java_home and os.path.exists(os.path.join(java_home, "bin", "java"))) and not shutil.which("java"):
        raise RuntimeError(
            f"Spark needs Java (17 or newer) for '{component}', and none was found; install it "
            "(Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    return pyspark


@contextmanager
def spark_session(
    component: str,
    master: str = "local[*]",
    driver_memory: str = "2g",
    executor_memory: str = "2g",
    shuffle_partitions: int = 8,
) -> Iterator[Any]:
    """A SparkSession set up for Tessera's tables (UTC, microsecond Parquet timestamps), stopped on exit."""
    check_spark_settings(master, driver_memory, executor_memory)
    require_spark(component)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if master.startswith("local") or _on_loopback(master):
        # Python workers run this interpreter, not whatever `python3` is first on PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    for key, value in master_settings(master, component, os.environ).items():
        builder = builder.config(key, value)
    session = (
        builder.appName(f"tessera-{component}")
        .master(master)
        .config("spark.driver.memory", driver_memory)
        .config("spark.executor.memory", executor_memory)
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()


def _on_loopback(master: str) -> bool:
    return bool(re.match(r"^spark://(127\.0\.0\.1|localhost)(:\d+)?$", master))


def master_settings(master: str, component: str, environ: Mapping[str, str]) -> dict[str, str]:
    """The Spark settings a master needs beyond the URL.

    - `local[N]`, and a standalone master on this machine: the driver talks over loopback only.
    - `spark://HOST:PORT` elsewhere: none; executors reach the driver at this host's name.
    - `k8s://https://API:PORT` (client mode: the driver is the component's own pod, executors are pods it
      asks the API for): the executors' image and namespace, the service account that may create pods,
      and the driver's pod IP, from what the Kubeflow runner gives every task (`TESSERA_RUNTIME_IMAGE`,
      `TESSERA_NAMESPACE`, `TESSERA_SPARK_SERVICE_ACCOUNT`) and the pod's `POD_IP`.

    Raises:
        ValueError: a k8s:// master without a runtime image to start executors from.
    """
    if master.startswith("local") or _on_loopback(master):
        return {"spark.driver.host": "127.0.0.1", "spark.driver.bindAddress": "127.0.0.1"}
    if not master.startswith("k8s://"):
        return {}
    image = environ.get("TESSERA_RUNTIME_IMAGE", "")
    if not image:
        raise ValueError(
            f"master: {master} starts executor pods from the runtime image, and TESSERA_RUNTIME_IMAGE is not set "
            "(Kubeflow runs set it from runtime_image in tessera.yaml)"
        )
    namespace = environ.get("TESSERA_NAMESPACE") or _pod_namespace() or "default"
    import socket

    return {
        "spark.kubernetes.container.image": image,
        "spark.kubernetes.namespace": namespace,
        "spark.kubernetes.authenticate.driver.serviceAccountName": environ.get(
            "TESSERA_SPARK_SERVICE_ACCOUNT", "default-editor"
        ),
        "spark.kubernetes.executor.podNamePrefix": f"tessera-{component.replace('_', '-')}",
        "spark.driver.host": environ.get("POD_IP") or socket.gethostbyname(socket.gethostname()),
        "spark.driver.bindAddress": "0.0.0.0",  # noqa: S104 (executor pods call back into this pod)
        "spark.kubernetes.executor.deleteOnTermination": "true",
    }


def _pod_namespace() -> str:
    path = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
    return open(path).read().strip() if os.path.exists(path) else ""  # noqa: SIM115 (a one-line file)


def read_source(spark: Any, location: str, view: str) -> Any:
    """A Spark DataFrame over Parquet (a file or a folder) or CSV (by the `.csv` suffix)."""
    if location.lower().endswith(".csv"):
        return spark.read.option("header", True).option("inferSchema", True).csv(location)
    if "://" not in location and not os.path.exists(location):
        raise ValueError(f"source '{view}': no file or folder at {location}")
    return spark.read.parquet(location)


def write_spark_table(frame: Any, artifact: Any) -> None:
    """Write a Spark DataFrame to a Dataset artifact (a folder of Parquet parts); record rows and column types."""
    frame.write.mode("overwrite").parquet(artifact.path)
    written = frame.sparkSession.read.parquet(artifact.path)  # counting the files is cheaper than the query again
    artifact.metadata["rows"] = int(written.count())
    artifact.metadata["columns"] = {f.name: f.dataType.simpleString() for f in written.schema.fields}


def check_view_name(view: str) -> None:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", view):
        raise ValueError(f"view name '{view}' is not a SQL identifier; use letters, digits and _ (e.g. events)")


def aggregate_events_spark(events: Any, spec: EventAggregation) -> Any:
    """The features of `event_features` for every snapshot, as a Spark DataFrame."""
    from pyspark.sql import functions as F

    spark = events.sparkSession
    # ISO strings cast to timestamp_ntz: a Python datetime would pass through the local time zone.
    snapshots = spark.createDataFrame([(t.isoformat(),) for t in spec.snapshots], [SNAPSHOT_COLUMN]).select(
        F.col(SNAPSHOT_COLUMN).cast("timestamp_ntz").alias(SNAPSHOT_COLUMN)
    )
    micros = 1_000_000

    def in_micros(column: str) -> Any:
        return F.unix_micros(F.col(column).cast("timestamp"))

    lookback_us = int(spec.lookback / timedelta(microseconds=1))
    joined = events.join(
        F.broadcast(snapshots),
        (F.col(spec.time) < F.col(SNAPSHOT_COLUMN))
        & (in_micros(spec.time) >= in_micros(SNAPSHOT_COLUMN) - F.lit(lookback_us)),
    ).withColumn("_age_us", in_micros(SNAPSHOT_COLUMN) - in_micros(spec.time))

    aggregations = []
    for label, length in spec.windows:
        in_window = F.col("_age_us") <= F.lit(int(length / timedelta(microseconds=1)))
        aggregations.append(F.count(F.when(in_window, 1)).alias(f"event_count_{label}"))
        for event_type in spec.event_types:
            is_type = in_window & (F.col(spec.type_column) == event_type)
            aggregations.append(F.count(F.when(is_type, 1)).alias(f"{event_type}_count_{label}"))
        for value in spec.value_columns:
            windowed = F.when(in_window, F.col(value).cast("double"))
            aggregations.append(F.coalesce(F.sum(windowed), F.lit(0.0)).alias(f"{value}_sum_{label}"))
            aggregations.append(F.coalesce(F.avg(windowed), F.lit(0.0)).alias(f"{value}_mean_{label}"))
        for column in spec.distinct_columns:
            # size(collect_set) rather than countDistinct: several distinct counts would make Spark expand every row.
            distinct = F.size(F.collect_set(F.when(in_window, F.col(column))))
            aggregations.append(distinct.alias(f"distinct_{column}_{label}"))
    lookback_days = spec.lookback / timedelta(days=1)
    for event_type in spec.event_types:
        youngest = F.min(F.when(F.col(spec.type_column) == event_type, F.col("_age_us")))
        days = youngest / F.lit(86_400.0 * micros)
        aggregations.append(F.coalesce(days, F.lit(lookback_days)).alias(f"days_since_last_{event_type}"))

    features = joined.groupBy(spec.entity, SNAPSHOT_COLUMN).agg(*aggregations)
    counts = [n for n in spec.feature_names() if "_count_" in n or n.startswith("distinct_")]
    for name in counts:
        features = features.withColumn(name, F.col(name).cast("long"))
    return features.select(spec.entity, SNAPSHOT_COLUMN, *spec.feature_names()).orderBy(spec.entity, SNAPSHOT_COLUMN)
