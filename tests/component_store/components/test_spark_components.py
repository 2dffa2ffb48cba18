"""Spark components on a real local[2] Spark: the event log, spark_aggregate against pandas, spark_sql."""

import sys

import pandas as pd
import pytest
from kfp.dsl import Dataset

from component_store.components.generate_event_log import generate_event_log
from component_store.components.spark_aggregate import spark_aggregate
from component_store.components.spark_sql import spark_sql
from component_store.runtime.event_features import (
    EventAggregation,
    aggregate_events_pandas,
    parse_duration,
    snapshot_times,
)
from component_store.runtime.spark_jobs import require_spark

SPARK = {"master": "local[2]", "driver_memory": "1g", "shuffle_partitions": 2}


@pytest.fixture(scope="module")
def event_log(tmp_path_factory):
    folder = tmp_path_factory.mktemp("events")
    events, labels = Dataset(uri=str(folder / "events")), Dataset(uri=str(folder / "labels"))
    generate_event_log(events=events, labels=labels, players=250, days=40, seed=7)
    return events, labels


def test_generate_event_log_is_seeded_with_labels_and_microsecond_times(event_log, output):
    events, labels = event_log
    frame, label_frame = pd.read_parquet(events.path), pd.read_parquet(labels.path)
    assert list(frame.columns) == ["player_id", "event_time", "event_type", "amount", "score", "device_id"]
    assert set(frame["event_type"]) == {"login", "payment", "match", "report"}
    assert frame["event_time"].dtype == "datetime64[us]" and frame["event_time"].is_monotonic_increasing
    assert 30_000 < len(frame) < 80_000
    assert len(label_frame) == 250 and set(label_frame["is_cheater"]) == {0, 1}
    # decisions fall in the last third of the 40 days, so features must be taken as of them
    assert label_frame["event_timestamp"].min() >= pd.Timestamp("2026-01-27")
    again_events, again_labels = output("e2"), output("l2")
    generate_event_log(events=again_events, labels=again_labels, players=250, days=40, seed=7)
    pd.testing.assert_frame_equal(pd.read_parquet(again_events.path), frame)
    cheaters = frame[frame["player_id"].isin(label_frame.query("is_cheater == 1")["player_id"])]
    honest = frame[~frame.index.isin(cheaters.index)]
    assert (cheaters["event_type"] == "report").mean() > 1.5 * (honest["event_type"] == "report").mean()


def test_spark_aggregate_equals_the_pandas_reference(event_log, output):
    events, _ = event_log
    features = output("features")
    spark_aggregate(events=events, features=features, snapshots=3, snapshot_every="7d", **SPARK)
    frame = pd.read_parquet(events.path)
    spec = EventAggregation.build(
        "player_id",
        "event_time",
        "event_type",
        ["login", "match", "payment", "report"],
        ["amount", "score"],
        ["device_id"],
        ["1d", "7d", "30d"],
        snapshot_times(frame["event_time"].max(), "", 3, "7d"),
    )
    expected = aggregate_events_pandas(frame, spec)
    got = pd.read_parquet(features.path)
    assert len(got) == len(expected) > 600
    pd.testing.assert_frame_equal(got, expected, check_dtype=False, atol=1e-9)
    assert features.metadata["rows"] == len(expected)
    assert features.metadata["snapshots"] == ["2026-01-27T00:00:00", "2026-02-03T00:00:00", "2026-02-10T00:00:00"]


def test_spark_aggregate_window_edges_on_a_hand_made_log(dataset, output):
    as_of = pd.Timestamp("2026-03-10")
    events = pd.DataFrame(
        {
            "player_id": [1, 1, 1, 1, 2],
            "event_time": [
                as_of - pd.Timedelta(days=7),  # exactly 7 days before: inside 7d
                as_of - pd.Timedelta(days=7, seconds=1),  # just outside 7d, inside 30d
                as_of - pd.Timedelta(hours=2),
                as_of,  # at the snapshot time: not yet known
                as_of - pd.Timedelta(days=31),  # player 2: older than every window
            ],
            "event_type": ["payment", "payment", "login", "login", "login"],
            "amount": [10.0, 5.0, 0.0, 0.0, 0.0],
            "device_id": [7, 8, 7, 9, 3],
        }
    ).astype({"event_time": "datetime64[us]"})
    features = output("features")
    spark_aggregate(
        events=dataset(events), features=features, value_columns=["amount"], windows=["1d", "7d", "30d"],
        as_of="2026-03-10", **SPARK,
    )  # fmt: skip
    row = pd.read_parquet(features.path).set_index("player_id").loc[1]
    assert row["payment_count_7d"] == 1 and row["payment_count_30d"] == 2 and row["login_count_1d"] == 1
    assert row["amount_sum_7d"] == 10.0 and row["amount_sum_30d"] == 15.0 and row["amount_mean_30d"] == 5.0
    assert row["distinct_device_id_30d"] == 2 and row["distinct_device_id_1d"] == 1
    assert row["days_since_last_login"] == pytest.approx(2 / 24)
    assert row["days_since_last_payment"] == pytest.approx(7.0)
    assert 2 not in pd.read_parquet(features.path)["player_id"].tolist()


def test_spark_aggregate_names_a_mistyped_column(event_log, output):
    with pytest.raises(ValueError, match="no column 'player' \\(did you mean 'player_id'\\?\\)"):
        spark_aggregate(events=event_log[0], features=output("f"), entity_column="player", **SPARK)


def test_spark_sql_joins_the_input_with_a_csv_source(event_log, output, tmp_path):
    events, labels = event_log
    labels_csv = tmp_path / "labels.csv"
    pd.read_parquet(labels.path)[["player_id", "is_cheater"]].to_csv(labels_csv, index=False)
    result = output("result")
    spark_sql(
        table=events,
        result=result,
        query=(
            "SELECT l.is_cheater, count(*) AS reports FROM events e JOIN labels l ON e.player_id = l.player_id "
            "WHERE e.event_type = 'report' GROUP BY l.is_cheater ORDER BY l.is_cheater"
        ),
        table_view="events",
        sources={"labels": str(labels_csv)},
        **SPARK,
    )
    got = pd.read_parquet(result.path)
    frame = pd.read_parquet(events.path).merge(pd.read_csv(labels_csv), on="player_id")
    expected = frame[frame["event_type"] == "report"].groupby("is_cheater").size()
    assert got["reports"].tolist() == expected.tolist()
    assert result.metadata["rows"] == 2 and result.metadata["columns"]["reports"] == "bigint"


def test_spark_sql_says_which_column_is_unknown(event_log, output):
    with pytest.raises(ValueError, match="spark_sql: the query failed: .*no_such_column.*; views: input"):
        spark_sql(table=event_log[0], result=output("r"), query="SELECT no_such_column FROM input", **SPARK)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"query": "DROP TABLE input"}, "spark_sql runs only SELECT statements; this one is a DROP"),
        ({"table_view": "my-table"}, "view name 'my-table' is not a SQL identifier"),
        ({"master": "localhost"}, "master: 'localhost' is not a Spark master URL; use local\\[\\*\\]"),
        ({"driver_memory": "2GB"}, "driver_memory: '2GB' is not a Spark memory size; write e.g. 512m, 2g"),
    ],
)
def test_spark_sql_refuses_bad_settings_before_starting_spark(event_log, output, settings, message):
    arguments = {"query": "SELECT * FROM input"} | settings
    with pytest.raises(ValueError, match=message):
        spark_sql(table=event_log[0], result=output("r"), **arguments)


def test_missing_java_or_pyspark_says_what_to_install(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    with pytest.raises(RuntimeError, match="Spark needs Java \\(17 or newer\\) for 'spark_sql'.*openjdk-17"):
        require_spark("spark_sql")
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(
        RuntimeError, match="PySpark is needed for 'spark_sql'; install it with: pip install \"tessera\\[spark\\]\""
    ):
        require_spark("spark_sql")


@pytest.mark.parametrize("text", ["7", "0d", "1y", "seven days"])
def test_bad_windows_are_refused_with_the_format(text):
    with pytest.raises(ValueError, match=f"window '{text}': '{text}' is not a duration; write a number and a unit"):
        parse_duration(text, f"window '{text}'")


@pytest.fixture(scope="module")
def standalone_master(tmp_path_factory):
    """A Spark standalone master and one worker on loopback, started with pyspark's own spark-class."""
    import subprocess
    import time
    from pathlib import Path

    import httpx
    import pyspark

    from tessera.ports import free_port

    spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
    logs = tmp_path_factory.mktemp("spark-cluster")
    port, master_ui, worker_ui = free_port(), free_port(), free_port()
    master_url = f"spark://127.0.0.1:{port}"
    environment = {"SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable, "SPARK_WORKER_DIR": str(logs)}
    import os

    started = [
        subprocess.Popen(
            [str(spark_class), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
             "--webui-port", str(master_ui)],
            env=os.environ | environment, stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{master_ui}/json/", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        started.append(
            subprocess.Popen(
                [str(spark_class), "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1", "--cores", "2",
                 "--memory", "1500m", "--webui-port", str(worker_ui), master_url],
                env=os.environ | environment, stdout=open(logs / "worker.log", "w"), stderr=subprocess.STDOUT,
            )
        )  # fmt: skip
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{master_ui}/json/", timeout=2).json().get("aliveworkers", 0) >= 1:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail(f"no Spark worker registered: {(logs / 'worker.log').read_text()[-2000:]}")
        yield master_url
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(30)


@pytest.mark.slow
def test_spark_components_on_a_standalone_cluster_equal_local(standalone_master, event_log, output, monkeypatch):
    """The same aggregation and query on spark://127.0.0.1 (executors in the worker's own JVM and Python
    workers) as on local[2]."""
    monkeypatch.setenv("PYSPARK_PYTHON", sys.executable)
    events, _ = event_log
    cluster = {"master": standalone_master, "driver_memory": "1g", "executor_memory": "1g", "shuffle_partitions": 2}
    on_cluster, on_local = output("cluster"), output("local")
    spark_aggregate(events=events, features=on_cluster, snapshots=2, snapshot_every="7d", **cluster)
    spark_aggregate(events=events, features=on_local, snapshots=2, snapshot_every="7d", **SPARK)
    pd.testing.assert_frame_equal(pd.read_parquet(on_cluster.path), pd.read_parquet(on_local.path))
    query = "SELECT event_type, count(*) AS n, sum(amount) AS spent FROM input GROUP BY event_type ORDER BY event_type"
    sql_cluster, sql_local = output("sql-cluster"), output("sql-local")
    spark_sql(table=events, result=sql_cluster, query=query, **cluster)
    spark_sql(table=events, result=sql_local, query=query, **SPARK)
    pd.testing.assert_frame_equal(pd.read_parquet(sql_cluster.path), pd.read_parquet(sql_local.path))


def test_a_kubernetes_master_gets_the_image_namespace_account_and_the_drivers_pod_ip():
    from component_store.runtime.spark_jobs import master_settings

    task = {
        "TESSERA_RUNTIME_IMAGE": "registry.example.com/tessera/runtime@sha256:abc", "TESSERA_NAMESPACE": "risk-team",
        "TESSERA_SPARK_SERVICE_ACCOUNT": "default-editor", "POD_IP": "10.1.2.3",
    }  # fmt: skip
    assert master_settings("k8s://https://kubernetes.default.svc:443", "spark_aggregate", task) == {
        "spark.kubernetes.container.image": "registry.example.com/tessera/runtime@sha256:abc",
        "spark.kubernetes.namespace": "risk-team",
        "spark.kubernetes.authenticate.driver.serviceAccountName": "default-editor",
        "spark.kubernetes.executor.podNamePrefix": "tessera-spark-aggregate",
        "spark.driver.host": "10.1.2.3",
        "spark.driver.bindAddress": "0.0.0.0",
        "spark.kubernetes.executor.deleteOnTermination": "true",
    }
    with pytest.raises(ValueError, match="TESSERA_RUNTIME_IMAGE is not set"):
        master_settings("k8s://https://kubernetes.default.svc:443", "spark_sql", {})
    assert master_settings("spark://127.0.0.1:7077", "spark_sql", {})["spark.driver.host"] == "127.0.0.1"
    assert master_settings("spark://spark-master.data:7077", "spark_sql", {}) == {}
