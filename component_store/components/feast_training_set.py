from kfp.dsl import Artifact, Dataset, Input, Output

from component_store.decorator import component


@component(
    name="feast_training_set",
    version="1.0.0",
    category="features",
    tags=["feast", "feature-store", "point-in-time"],
    owner="platform",
)
def feast_training_set(
    entities: Input[Dataset],
    feature_view: Input[Artifact],
    training_set: Output[Dataset],
    features: list = [],
    timestamp_column: str = "event_timestamp",
):
    """Build a point-in-time correct training set: each labelled row gets the feature values known at its time.

    For every entity row (entity id, timestamp, label…) Feast joins the latest feature
    values from at or before that row's timestamp, never later ones, so the model does not
    learn from the future. Rows keep their order and their other columns.

    Args:
        entities: entity ids, a timestamp column and labels, e.g. generate_event_log's labels.
        feature_view: the feature view to read (from feast_materialize).
        training_set: the entity rows with their features, as Parquet.
        features: the view's features to join; empty joins all of them.
        timestamp_column: the entity rows' time column.
    """
    from component_store.runtime.feature_tables import build_training_set, read_view_artifact
    from component_store.runtime.tables import read_table, write_table

    view = read_view_artifact(feature_view)
    frame = build_training_set(
        view["feature_repo"], view["feature_view"], list(features), read_table(entities), timestamp_column
    )
    write_table(frame, training_set)
    training_set.metadata["feature_view"] = view["feature_view"]
