"""`Models`: the workspace's registered models (on its MLflow registry): versions with metrics and
lineage, loading by alias, promote and rollback."""

from __future__ import annotations

import builtins
from functools import cached_property
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from serving.model_registry import ModelRegistry, ModelSummary, ModelVersionInfo
    from tessera.workspace import Workspace as WorkspaceFolder


class Models:
    """Registered models. `ws.models.load("cheater-detector@champion")` gives the model to call.

    Example:
        >>> ws.models.versions("cheater-detector")[0].metrics["roc_auc"]  # doctest: +SKIP
        0.93
        >>> ws.models.promote("cheater-detector", "3")  # doctest: +SKIP
    """

    def __init__(self, folder: WorkspaceFolder):
        self._folder = folder

    @cached_property
    def registry(self) -> ModelRegistry:
        from serving.model_registry import ModelRegistry

        return ModelRegistry.of_workspace(self._folder)

    def list(self) -> builtins.list[ModelSummary]:
        """Every registered model: latest version and aliases."""
        return self.registry.models()

    def versions(self, name: str) -> builtins.list[ModelVersionInfo]:
        """Every version of a model, newest first: aliases, `.metrics` (test metrics), `.lineage`
        (a list that a notebook shows as a table)."""
        return ModelVersions(self.registry.versions(name))

    def version(self, ref: str) -> ModelVersionInfo:
        """The version `name@alias` or `name/3` points at now."""
        return self.registry.resolve(ref)

    def load(self, ref: str) -> Any:
        """The version's model: a scikit-learn estimator where MLflow logged one, else an MLflow pyfunc."""
        return self.registry.load(ref)

    def register(
        self, model: Any, name: str, *, features: Any, metrics: dict[str, float] | None = None,
        alias: str = "challenger", data_from: Any = None, description: str = "",
    ) -> ModelVersionInfo:  # fmt: skip
        """Register a scikit-learn model fitted in a notebook, with lineage, as a workflow's model is.

        Args:
            model: the fitted estimator (a classifier with `predict_proba`, or a regressor).
            name: the registered model's name; a new version is added to an existing one.
            features: the training features (a DataFrame): they give the signature serving checks requests against.
            metrics: test metrics, kept on the version as `tessera.metric.*` (compared, shown, gated on).
            alias: the alias to point at the new version (`challenger` by default; never `champion` unasked).
            data_from: `(run, node)` or `(run, node, output)`: the workflow run output the data came from, recorded
                as the version's lineage (run, workflow, node, data fingerprint).
            description: kept on the MLflow run.

        Example:
            >>> ws.models.register(model, "cheater-detector", features=X, metrics={"roc_auc": 0.94},
            ...                    data_from=(run, "split", "train"))  # doctest: +SKIP
        """
        import mlflow

        from component_store.runtime.models import log_sklearn_model
        from component_store.runtime.tracking import start_tracking
        from serving.model_registry import tracking_at

        task = "classification" if hasattr(model, "predict_proba") and hasattr(model, "classes_") else "regression"
        tags = {"tessera.source": "notebook", **_lineage(data_from)}
        registry = self.registry  # creates and migrates the workspace's store first
        experiment = tags.get("tessera.workflow", "notebooks")
        with tracking_at(self._folder.tracking_uri()):  # the caller's own MLflow settings are put back after
            start_tracking(self._folder.tracking_uri(), experiment, self._folder.mlflow_artifacts.as_uri())
            with mlflow.start_run(tags=tags, description=description or None) as run:
                if metrics:
                    mlflow.log_metrics({key: float(value) for key, value in metrics.items()})
                info = log_sklearn_model(model, features, task)
            tags["tessera.training_run"] = run.info.run_id
            tags |= {f"tessera.metric.{key}": str(float(value)) for key, value in (metrics or {}).items()}
            version, _ = registry.register(info.model_uri, name, tags, alias, champion_if_none=True)
        return version

    def promote(self, name: str, version: str, alias: str = "champion") -> tuple[ModelVersionInfo, builtins.list[Any]]:
        """Point `alias` at `version` (the previous target is remembered for rollback); local endpoints
        serving `name@alias` move now. Returns the version and the endpoints that moved."""
        info = self.registry.promote(name, str(version).removeprefix("v"), alias)
        return info, self._move_following_endpoints(name, alias)

    def rollback(self, name: str, alias: str = "champion") -> tuple[ModelVersionInfo, builtins.list[Any]]:
        """Point `alias` back where it pointed before the last promote; endpoints following it move now."""
        info = self.registry.rollback(name, alias)
        return info, self._move_following_endpoints(name, alias)

    def _move_following_endpoints(self, name: str, alias: str) -> builtins.list[Any]:
        from serving.local_target import LocalProcessTarget

        if not (self._folder.state_dir / "endpoints.db").exists():
            return []
        return list(LocalProcessTarget(self._folder).follow_alias(f"{name}@{alias}"))

    def _repr_html_(self) -> str:
        from tessera.sdk.display import table_html

        rows = [
            (
                escape(model.name),
                f"v{model.latest_version}" if model.latest_version else "-",
                escape(", ".join(f"{alias} → v{version}" for alias, version in sorted(model.aliases.items()))),
            )
            for model in self.list()
        ]
        return table_html("registered models", ("model", "latest", "aliases"), rows)


def _lineage(data_from: Any) -> dict[str, str]:
    """`tessera.*` lineage tags for data read from a workflow run's node output."""
    if data_from is None:
        return {}
    run, node, *rest = data_from
    record = run.record.node(node)
    output = rest[0] if rest else next(iter(record.outputs), "")
    return {
        "tessera.run_id": run.id, "tessera.workflow": run.record.workflow, "tessera.node": node,
        "tessera.output": output, "tessera.data_fingerprint": record.fingerprint,
    }  # fmt: skip


class ModelVersions(list):  # type: ignore[type-arg]
    """Model versions, shown in a notebook as a table: aliases, test metrics and lineage."""

    def _repr_html_(self) -> str:
        from tessera.sdk.display import table_html

        return table_html("model versions", ("version", "aliases", "test metrics", "lineage"), _version_rows(self))


def _version_rows(versions: list[ModelVersionInfo]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for version in versions:
        lineage = version.lineage
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(version.metrics.items()))
        trail = (
            f"run {lineage.get('tessera.run_id', '?')} of {lineage.get('tessera.workflow', '?')}, "
            f"node {lineage.get('tessera.node', '?')} ({lineage.get('tessera.component', '?')})"
        )
        rows.append((f"v{escape(version.version)}", escape(", ".join(version.aliases)), escape(metrics), escape(trail)))
    return rows
