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
        """Every version of a model, newest first: aliases, `.metrics` (test metrics), `.lineage`."""
        return self.registry.versions(name)

    def version(self, ref: str) -> ModelVersionInfo:
        """The version `name@alias` or `name/3` points at now."""
        return self.registry.resolve(ref)

    def load(self, ref: str) -> Any:
        """The version's model: a scikit-learn estimator where MLflow logged one, else an MLflow pyfunc."""
        return self.registry.load(ref)

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


def versions_html(versions: list[ModelVersionInfo]) -> str:
    """Model versions as a table: aliases, test metrics and lineage."""
    from tessera.sdk.display import table_html

    rows = []
    for version in versions:
        lineage = version.lineage
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in sorted(version.metrics.items()))
        trail = (
            f"run {lineage.get('tessera.run_id', '?')} of {lineage.get('tessera.workflow', '?')}, "
            f"node {lineage.get('tessera.node', '?')} ({lineage.get('tessera.component', '?')})"
        )
        rows.append((f"v{escape(version.version)}", escape(", ".join(version.aliases)), escape(metrics), escape(trail)))
    return table_html("model versions", ("version", "aliases", "test metrics", "lineage"), rows)
