"""Feast for components: write feature rows to a view's offline source, materialise, build training sets."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from component_store.runtime.tables import require_columns, write_parquet
from serving.online_features import (
    FeatureStoreError,
    feature_references,
    feature_view,
    open_feature_store,
    restore_feast_sqlite_codecs,
)


def write_offline(store: Any, view: Any, rows: pd.DataFrame, mode: str) -> None:
    """Put `rows` into the view's offline source: `replace` rewrites a file source, `append` adds to it."""
    source = view.batch_source
    columns = [*view.join_keys, source.timestamp_field, *[f.name for f in view.features]]
    require_columns(rows, columns, f"feature view '{view.name}'")
    rows = rows[columns]
    if mode == "append":
        store.write_to_offline_store(view.name, rows)
        return
    path = getattr(source, "path", None)
    if not path or "://" in path:
        raise FeatureStoreError(
            f"mode 'replace' rewrites a local file source, and view '{view.name}' reads {path or 'another store'}; "
            "use mode 'append'"
        )
    target = Path(path) if Path(path).is_absolute() else Path(store.repo_path) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    write_parquet(rows, partial)
    partial.replace(target)


def materialize(
    feature_repo: str, view_name: str, rows: pd.DataFrame, mode: str, start: str, end: str
) -> dict[str, Any]:
    """Write `rows` offline, then load the online store from `start` to `end`; returns what was done."""
    store = open_feature_store(feature_repo, apply=True)
    view = feature_view(store, view_name)
    write_offline(store, view, rows, mode)
    timestamps = rows[view.batch_source.timestamp_field]
    end_time = _time(end, "end_date") if end else pd.Timestamp(timestamps.max()) + pd.Timedelta(seconds=1)
    start_time = _time(start, "start_date") if start else pd.Timestamp(timestamps.min())
    if start_time >= end_time:
        raise ValueError(f"start_date {start_time} is not before end_date {end_time}")
    restore_feast_sqlite_codecs(store)
    store.materialize(start_date=_utc(start_time), end_date=_utc(end_time), feature_views=[view_name])
    return {
        "feature_repo": str(feature_repo),
        "feature_view": view_name,
        "features": [f.name for f in view.features],
        "join_keys": list(view.join_keys),
        "rows": int(len(rows)),
        "materialized_from": start_time.isoformat(),
        "materialized_to": end_time.isoformat(),
        "online_store": store.config.online_store.type,
    }


def build_training_set(
    feature_repo: str, view_name: str, features: list[str], entities: pd.DataFrame, timestamp_column: str
) -> pd.DataFrame:
    """Point-in-time correct features for each entity row, in the entity rows' order.

    Each row gets the latest feature values whose `event_timestamp` is at or before the row's
    `timestamp_column` (and within the view's ttl), never a value from after it.
    """
    store = open_feature_store(feature_repo, apply=True)
    view = feature_view(store, view_name)
    references = feature_references(view, features)
    require_columns(entities, [*view.join_keys, timestamp_column], "the entity table")
    order = "__tessera_row"
    entity_rows = entities.assign(**{order: range(len(entities))})
    query = entity_rows[[*view.join_keys, timestamp_column, order]].rename(
        columns={timestamp_column: "event_timestamp"}
    )
    found = store.get_historical_features(entity_df=query, features=references).to_df()
    names = [reference.split(":", 1)[1] for reference in references]
    # Feast's file store leaves out rows with no feature value yet: join back so every entity row stays, in order.
    frame = entity_rows.merge(found[[order, *names]], on=order, how="left").sort_values(order)
    return frame.drop(columns=[order]).reset_index(drop=True)


def write_view_artifact(artifact: Any, description: dict[str, Any]) -> None:
    """The `feature_view` output: a small JSON file plus the same facts as metadata."""
    Path(artifact.path).write_text(json.dumps(description, indent=2))
    artifact.metadata.update(description)


def read_view_artifact(artifact: Any) -> dict[str, Any]:
    return dict(json.loads(Path(artifact.path).read_text()))


def _time(text: str, what: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text)
    except ValueError:
        raise ValueError(f"{what}: '{text}' is not a date or time; write e.g. 2026-03-01 or 2026-03-01T12:00") from None


def _utc(moment: pd.Timestamp) -> datetime:
    return (moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")).to_pydatetime()
