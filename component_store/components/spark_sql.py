from typing import Annotated

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(name="spark_sql", version="1.0.0", category="transform", tags=["spark", "sql", "big-data"], owner="platform")
def spark_sql(
    table: Input[Dataset],
    result: Output[Dataset],
    query: str,
    table_view: str = "input",
    sources: dict = {},
    master: str = "local[*]",
    driver_memory: str = "2g",
    executor_memory: str = "2g",
    shuffle_partitions: Annotated[int, (1, 10000)] = 8,
):
    """Run a Spark SQL query over the input table and other Parquet/CSV sources, and keep the result.

    The input is registered as a temporary view named `table_view`; every entry of
    `sources` adds one more view from a Parquet file or folder, or a CSV file (by its
    `.csv` suffix), local or on object storage (s3a://…) on a cluster. The query may
    join them; the result is written as Parquet. Use it for tables too big for pandas.

    Args:
        table: the main input table.
        result: the query's result, as Parquet.
        query: one Spark SQL SELECT over the views, e.g. SELECT player_id, count(*) AS n FROM input GROUP BY player_id.
        table_view: the view name of the input table in the query.
        sources: more views, name → location, e.g. {"devices": "s3a://lake/devices/"}.
        master: Spark master URL: local[*] on this machine, spark://… or k8s://… for a cluster.
        driver_memory: Spark driver memory, e.g. 2g; the Kubeflow task asks for it plus overhead.
        executor_memory: memory per Spark executor, e.g. 2g (cluster masters).
        shuffle_partitions: partitions after a shuffle (joins, GROUP BY); a few per core.
    """
    from component_store.runtime.spark_jobs import check_view_name, read_source, spark_session, write_spark_table
    from component_store.runtime.sql_guard import require_select
    from component_store.runtime.tables import row_limit

    require_select(query, "spark_sql")
    views = {table_view: table.path, **{str(k): str(v) for k, v in sources.items()}}
    for view in views:
        check_view_name(view)
    with spark_session("spark_sql", master, driver_memory, executor_memory, shuffle_partitions) as spark:
        for view, location in views.items():
            read_source(spark, location, view).createOrReplaceTempView(view)
        try:
            frame = spark.sql(query)
        except Exception as exc:  # Spark's AnalysisException names the column or view; keep its first line
            first_line = str(exc).strip().splitlines()[0]
            raise ValueError(f"spark_sql: the query failed: {first_line}; views: {', '.join(views)}") from None
        limit = row_limit(0)
        if limit:
            frame = frame.limit(limit)
        write_spark_table(frame, result)
