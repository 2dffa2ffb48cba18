"""Feast feature repos: open one, and read online features for a request that carries only ids.

A feature repo is a folder with `feature_store.yaml` and Python files defining entities,
sources and feature views (the demo's is `projects/risk/features`). The online store is
SQLite by default and Redis by configuration:

    online_store:
      type: redis
      connection_string: "127.0.0.1:6379"

Example:
    >>> frame = get_online_features("projects/risk/features", [17, 42], ["player_activity:login_count_7d"])
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from typing import Any

from tessera.errors import TesseraError
from tessera.suggest import did_you_mean


class FeatureStoreError(TesseraError):
    """A feature repo that cannot be opened, or features it does not have."""


def require_feast(what: str) -> Any:
    """The feast module, or an error that says how to install it."""
    try:
        import feast
    except ImportError:
        raise FeatureStoreError(f'Feast is needed for {what}; install it with: pip install "tessera[feast]"') from None
    return feast


def resolve_repo(feature_repo: str | Path) -> Path:
    """An absolute feature repo folder: as given, or relative to the workspace (`TESSERA_HOME`)."""
    path = Path(feature_repo)
    if not path.is_absolute() and os.environ.get("TESSERA_HOME"):
        path = Path(os.environ["TESSERA_HOME"]) / path
    path = path.resolve()
    if not (path / "feature_store.yaml").is_file():
        raise FeatureStoreError(
            f"No Feast feature repo at {path}: it needs a feature_store.yaml; "
            "the demo's is projects/risk/features (tessera init --demo)"
        )
    return path


def feature_repos(workspace_root: Path) -> list[str]:
    """The workspace's Feast repos (folders with a feature_store.yaml under projects/), relative to it."""
    return sorted(
        str(config.parent.relative_to(workspace_root))
        for config in workspace_root.glob("projects/**/feature_store.yaml")
    )


def open_feature_store(feature_repo: str | Path, apply: bool = False) -> Any:
    """A `feast.FeatureStore` over the repo; with `apply`, its definitions registered first (`feast apply`)."""
    require_feast("the feature store")
    from feast import FeatureStore

    repo = resolve_repo(feature_repo)
    if apply:
        from feast.repo_config import load_repo_config
        from feast.repo_operations import apply_total

        # `feast apply` imports the repo's Python files as top-level modules, as its CLI does.
        if str(repo) not in sys.path:
            sys.path.insert(0, str(repo))
        with contextlib.redirect_stdout(io.StringIO()):
            apply_total(load_repo_config(repo, repo / "feature_store.yaml"), repo, skip_source_validation=True)
    return FeatureStore(repo_path=str(repo))


def feature_view(store: Any, name: str) -> Any:
    """The feature view `name`, or an error listing the repo's views (did you mean…?)."""
    views = {view.name: view for view in store.list_feature_views()}
    if name not in views:
        raise FeatureStoreError(
            f"The feature repo has no feature view '{name}'{did_you_mean(name, views)}; "
            f"it has: {', '.join(sorted(views)) or 'none (run feast apply?)'}"
        )
    return views[name]


def feature_references(view: Any, features: list[str]) -> list[str]:
    """`view:feature` references for `features` of the view (all of them when empty), each checked."""
    known = [field.name for field in view.features]
    chosen = [f.split(":", 1)[-1] for f in features] or known
    unknown = [f for f in chosen if f not in known]
    if unknown:
        hints = "; ".join(f"'{f}'{did_you_mean(f, known)}" for f in unknown)
        raise FeatureStoreError(f"Feature view '{view.name}' has no feature {hints}; it has: {', '.join(known)}")
    return [f"{view.name}:{f}" for f in chosen]


class OnlineFeatures:
    """Reads online features for scoring: the repo opened and the references checked once, then `read(ids)`.

    Example:
        >>> features = OnlineFeatures("projects/risk/features", ["player_activity"], feature_order=columns)  # doctest: +SKIP
        >>> features.read([17, 42])  # doctest: +SKIP
    """

    def __init__(
        self,
        feature_repo: str | Path,
        features: list[str],
        entity_key: str = "player_id",
        feature_order: list[str] | None = None,
    ):
        self.store = open_feature_store(feature_repo)
        self.entity_key = entity_key
        requested: dict[str, list[str] | None] = {}  # view -> its named features; None: all of them
        for item in features:
            view_name, _, feature = item.partition(":")
            if not feature:
                requested[view_name] = None
            elif (chosen := requested.setdefault(view_name, [])) is not None:
                chosen.append(feature)
        self.references = [
            reference
            for view_name, names in requested.items()
            for reference in feature_references(feature_view(self.store, view_name), names or [])
        ]
        names = [r.split(":", 1)[1] for r in self.references]
        self.order = feature_order if feature_order is not None else names
        missing = [name for name in self.order if name not in names]
        if missing:
            hints = "; ".join(f"'{m}'{did_you_mean(m, names)}" for m in missing)
            raise FeatureStoreError(f"The model needs features the request did not ask Feast for: {hints}")

    def read(self, entity_ids: list[Any]) -> Any:
        """One row per id, in the given order; a feature with no online value is NaN."""
        rows = [{self.entity_key: entity_id} for entity_id in entity_ids]
        restore_feast_sqlite_codecs(self.store)
        frame = self.store.get_online_features(features=self.references, entity_rows=rows).to_df()
        return frame[[self.entity_key, *self.order]]


def get_online_features(
    feature_repo: str | Path,
    entity_ids: list[Any],
    features: list[str],
    entity_key: str = "player_id",
    feature_order: list[str] | None = None,
) -> Any:
    """Online feature values for `entity_ids`, one row per id in the given order.

    Args:
        feature_repo: the repo folder (absolute, or relative to the workspace).
        entity_ids: ids of the entity, e.g. player ids from a scoring request.
        features: `view:feature` references, or `view` alone for all of that view's features.
        entity_key: the entity's join key.
        feature_order: the model's feature names (its signature's inputs): the columns come back
            in this order, so the frame can go straight to the model. Default: the features' order.

    Returns:
        A pandas DataFrame with `entity_key` first; a feature with no online value is NaN.

    For a server answering many requests, build `OnlineFeatures` once and call `read` per request.
    """
    return OnlineFeatures(feature_repo, features, entity_key, feature_order).read(entity_ids)


def restore_feast_sqlite_codecs(store: Any) -> None:
    """Feast's SQLite online store writes and reads timestamps through sqlite3's process-wide datetime
    adapter and "timestamp" converter (epoch seconds); `DataFrame.to_sql` on a sqlite3 connection
    replaces both with ISO-text ones, after which Feast fails. Put Feast's back before using the store."""
    if store.config.online_store.type != "sqlite":
        return
    import sqlite3
    from datetime import datetime

    from feast.infra.online_stores import sqlite as feast_sqlite

    sqlite3.register_adapter(datetime, feast_sqlite.adapt_datetime_epoch)
    sqlite3.register_converter("timestamp", feast_sqlite.convert_timestamp)
