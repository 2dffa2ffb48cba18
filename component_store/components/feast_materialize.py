from typing import Literal

from kfp.dsl import Artifact, Dataset, Input, Output

from component_store.decorator import component


@component(
    name="feast_materialize",
    version="1.0.0",
    category="features",
    tags=["feast", "feature-store", "online-features"],
    owner="platform",
)
def feast_materialize(
    features: Input[Dataset],
    feature_view: Output[Artifact],
    feature_repo: str,
    view: str,
    mode: Literal["replace", "append"] = "replace",
    start_date: str = "",
    end_date: str = "",
):
    """Publish feature rows to a Feast feature view and load its online store for real-time scoring.

    The rows go to the view's offline source (`replace` rewrites its file, `append` adds to
    it), the repo's definitions are applied, and the online store (SQLite, or Redis by the
    repo's configuration) gets the latest value per entity up to `end_date`. The output
    names the view and its features, for `feast_training_set`.

    Args:
        features: rows with the view's join key, its timestamp column and its features (e.g. from spark_aggregate).
        feature_view: the view that was published: repo, view name, features, time range (JSON).
        feature_repo: the Feast repo folder, relative to the workspace, e.g. projects/risk/features.
        view: the feature view to publish to, e.g. player_activity.
        mode: replace rewrites the view's file source with these rows; append adds them.
        start_date: materialise from this time (ISO); empty is the earliest row.
        end_date: materialise up to this time (ISO); empty is just after the latest row.
    """
    from component_store.runtime.feature_tables import materialize, write_view_artifact
    from component_store.runtime.tables import read_table

    rows = read_table(features)
    description = materialize(feature_repo, view, rows, mode, start_date, end_date)
    write_view_artifact(feature_view, description)
    print(f"published {description['rows']} rows to '{view}' and materialised them into {description['online_store']}")
