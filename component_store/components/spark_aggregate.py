from typing import Annotated

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(
    name="spark_aggregate",
    version="1.0.0",
    category="features",
    tags=["spark", "events", "features", "big-data", "feast"],
    owner="platform",
)
def spark_aggregate(
    events: Input[Dataset],
    features: Output[Dataset],
    entity_column: str = "player_id",
    time_column: str = "event_time",
    type_column: str = "event_type",
    event_types: list = [],
    value_columns: list = ["amount", "score"],
    distinct_columns: list = ["device_id"],
    windows: list = ["1d", "7d", "30d"],
    as_of: str = "",
    snapshots: Annotated[int, (1, 366)] = 1,
    snapshot_every: str = "7d",
    master: str = "local[*]",
    driver_memory: str = "2g",
    executor_memory: str = "2g",
    shuffle_partitions: Annotated[int, (1, 10000)] = 8,
):
    """Turn an event log into per-entity features over time windows with Spark (counts, sums, distinct counts, recency).

    For each entity and snapshot time, over each window: the number of events and of
    each event type, the sum and mean of each value column, distinct counts, and the
    days since the latest event of each type. Several snapshots (e.g. weekly) give the
    feature history that Feast needs for point-in-time training sets; the snapshot time
    is the `event_timestamp` column.

    Args:
        events: the event log (Parquet); one row per event.
        features: one row per entity and snapshot: entity, event_timestamp and the features.
        entity_column: the column that identifies the entity, e.g. player_id.
        time_column: the event time column.
        type_column: the event type column; its values name the per-type features.
        event_types: the event types to count; empty takes every type in the data.
        value_columns: numeric columns to sum and average per window.
        distinct_columns: columns whose distinct values are counted per window (devices, IPs).
        windows: window lengths such as 1d, 7d, 30d (units s, m, h, d, w).
        as_of: the latest snapshot time (ISO date or time); empty is midnight after the last event.
        snapshots: how many snapshots, ending at as_of.
        snapshot_every: the time between snapshots, e.g. 7d.
        master: Spark master URL: local[*] on this machine, spark://… or k8s://… for a cluster.
        driver_memory: Spark driver memory, e.g. 2g; the Kubeflow task asks for it plus overhead.
        executor_memory: memory per Spark executor, e.g. 2g (cluster masters).
        shuffle_partitions: partitions after the group-by; a few per core.
    """
    from component_store.runtime.event_features import EventAggregation, snapshot_times
    from component_store.runtime.spark_jobs import aggregate_events_spark, spark_session, write_spark_table
    from component_store.runtime.tables import require_columns

    with spark_session("spark_aggregate", master, driver_memory, executor_memory, shuffle_partitions) as spark:
        from pyspark.sql import functions as F

        frame = spark.read.parquet(events.path)
        named = [entity_column, time_column, type_column, *value_columns, *distinct_columns]
        require_columns(frame, named, "spark_aggregate")
        last_event, seen_types = frame.agg(F.max(time_column), F.collect_set(type_column)).collect()[0]
        if last_event is None and not as_of:
            raise ValueError("spark_aggregate: the event table is empty; give as_of or feed it events")
        types = event_types or sorted(t for t in seen_types if t)
        spec = EventAggregation.build(
            entity_column,
            time_column,
            type_column,
            types,
            value_columns,
            distinct_columns,
            windows,
            snapshot_times(last_event, as_of, snapshots, snapshot_every),
        )
        write_spark_table(aggregate_events_spark(frame, spec), features)
        features.metadata["snapshots"] = [t.isoformat() for t in spec.snapshots]
