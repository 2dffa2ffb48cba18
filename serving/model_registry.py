"""The model registry, on MLflow: versions, aliases (`champion`, `challenger`), lineage, promote and rollback.

MLflow stores the versions and aliases; Tessera adds an alias history (a registered-model
tag per alias) so an alias can be rolled back to the version it pointed at before.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tessera.errors import TesseraError
from tessera.stores import prepare_stores
from tessera.suggest import did_you_mean, one_of

if TYPE_CHECKING:
    from tessera.workspace import Workspace

HISTORY_TAG = "tessera.alias_history.{alias}"
FINGERPRINT_TAG = "tessera.model_fingerprint"


class RegistryError(TesseraError):
    """A model, version or alias that the registry does not have, or a move it cannot make."""


@dataclass(frozen=True)
class ModelVersionInfo:
    name: str
    version: str
    aliases: tuple[str, ...]
    run_id: str | None
    source: str
    created_at: int
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def lineage(self) -> dict[str, str]:
        return {k: v for k, v in self.tags.items() if k.startswith("tessera.") and not k.startswith("tessera.metric.")}

    @property
    def metrics(self) -> dict[str, float]:
        return {
            k.removeprefix("tessera.metric."): float(v) for k, v in self.tags.items() if k.startswith("tessera.metric.")
        }


@dataclass(frozen=True)
class ModelSummary:
    name: str
    latest_version: str | None
    aliases: dict[str, str]
    description: str


def parse_model_ref(ref: str) -> tuple[str, str | None, str | None]:
    """`name@alias`, `name/3` or `models:/name@alias` -> (name, version, alias)."""
    text = ref.removeprefix("models:/")
    if "@" in text:
        name, alias = text.split("@", 1)
        return name, None, alias
    match = re.fullmatch(r"(.+)/(\d+)", text)
    if match:
        return match.group(1), match.group(2), None
    raise RegistryError(
        f"'{ref}' is not a model reference; write NAME@ALIAS (e.g. cheater-detector@champion) or NAME/VERSION"
    )


@contextmanager
def tracking_at(uri: str | None) -> Iterator[None]:
    """MLflow's process-wide tracking and registry URIs set to `uri` for a block, then put back exactly as
    they were (unset ones unset), with the active experiment and the environment variables MLflow exports
    to child processes: a notebook or a test process keeps its own settings, and a server started later
    reads its own store."""
    import os

    import mlflow
    from mlflow.tracking import fluent
    from mlflow.tracking._model_registry import utils as registry_settings
    from mlflow.tracking._tracking_service import utils as tracking_settings

    if not uri:
        yield
        return
    # MLflow keeps "unset" only in these module globals (its getters resolve a default instead)
    before_tracking = tracking_settings._tracking_uri
    before_registry = registry_settings._registry_uri
    before_experiment = fluent._active_experiment_id  # set_experiment inside the block must not outlive it
    exported = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID")
    variables = {name: os.environ.get(name) for name in exported}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        if before_tracking is None:
            tracking_settings._tracking_uri = None
        else:
            mlflow.set_tracking_uri(before_tracking)
        registry_settings._registry_uri = before_registry
        fluent._active_experiment_id = before_experiment
        for name, value in variables.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_model(uri: str) -> Any:
    """The model at an MLflow URI or folder, as its flavour has it: a scikit-learn estimator where MLflow
    logged one (with `predict_proba` and `classes_`), otherwise an MLflow pyfunc model."""
    from pathlib import Path

    import mlflow.artifacts
    import mlflow.pyfunc
    from mlflow.models import Model

    local = uri if (Path(uri) / "MLmodel").exists() else mlflow.artifacts.download_artifacts(artifact_uri=uri)
    if "sklearn" in Model.load(local).flavors:
        import mlflow.sklearn

        return mlflow.sklearn.load_model(local)
    return mlflow.pyfunc.load_model(local)


class ModelRegistry:
    """Registered models of one MLflow tracking store.

    Example:
        >>> registry = ModelRegistry(workspace.tracking_uri())  # doctest: +SKIP
        >>> registry.promote("cheater-detector", "3", "champion")  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | None = None):
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    @classmethod
    def of_workspace(cls, workspace: Workspace) -> ModelRegistry:
        """The registry of a workspace's tracking store, created and migrated first if it is new."""
        prepare_stores(workspace)
        return cls(workspace.tracking_uri())

    def models(self) -> list[ModelSummary]:
        found = []
        for model in self.client.search_registered_models(max_results=1000):
            latest = max((int(v.version) for v in model.latest_versions or []), default=None)
            found.append(
                ModelSummary(
                    model.name, str(latest) if latest else None, dict(model.aliases or {}), model.description or ""
                )
            )
        return sorted(found, key=lambda m: m.name)

    def versions(self, name: str) -> list[ModelVersionInfo]:
        """Every version of `name`, newest first."""
        self._require(name)
        # search results do not carry aliases in every store: take them from the model itself
        aliases: dict[str, list[str]] = {}
        for alias, version in (self.client.get_registered_model(name).aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        versions = self.client.search_model_versions(f"name='{name}'", max_results=1000)
        infos = [self._info(v, tuple(sorted(aliases.get(str(v.version), [])))) for v in versions]
        return sorted(infos, key=lambda v: -int(v.version))

    def version(self, name: str, version: str) -> ModelVersionInfo:
        from mlflow.exceptions import MlflowException

        self._require(name)
        try:
            return self._info(self.client.get_model_version(name, version))
        except MlflowException:
            known = [v.version for v in self.versions(name)]
            raise RegistryError(f"Model '{name}' has no version {version}; versions: {one_of(known)}") from None

    def artifact_uri(self, name: str, version: str) -> str:
        """Where the version's files are (s3://, gs://, file://): what a cluster runtime can download."""
        self.version(name, version)
        return str(self.client.get_model_version_download_uri(name, version))

    def resolve(self, ref: str) -> ModelVersionInfo:
        """The version a reference points at now (`name@alias` follows the alias)."""
        from mlflow.exceptions import MlflowException

        name, version, alias = parse_model_ref(ref)
        if version is not None:
            return self.version(name, version)
        self._require(name)
        try:
            return self._info(self.client.get_model_version_by_alias(name, alias or ""))
        except MlflowException:
            aliases = self.client.get_registered_model(name).aliases or {}
            raise RegistryError(
                f"Model '{name}' has no alias '{alias}'{did_you_mean(alias or '', aliases)}; aliases: {one_of(aliases)}"
            ) from None

    def load(self, ref: str) -> Any:
        """The version a reference points at (`name@alias`, `name/3`), loaded (see `load_model`)."""
        info = self.resolve(ref)
        with tracking_at(self.tracking_uri):
            return load_model(f"models:/{info.name}/{info.version}")

    def register(
        self, model_uri: str, name: str, tags: dict[str, str], alias: str, champion_if_none: bool = True
    ) -> tuple[ModelVersionInfo, bool]:
        """Register `model_uri` under `name` with tags and point `alias` at it; (version, created).

        Idempotent: a version with the same `tessera.model_fingerprint` tag is reused.
        With `champion_if_none`, the first version of a model also becomes `champion`.
        """
        import mlflow
        from mlflow.exceptions import MlflowException

        fingerprint = tags.get(FINGERPRINT_TAG)
        existing: list[Any] = []
        try:
            self.client.get_registered_model(name)
            if fingerprint:
                existing = self.client.search_model_versions(
                    f"name='{name}' and tags.`{FINGERPRINT_TAG}`='{fingerprint}'"
                )
        except MlflowException:
            self.client.create_registered_model(name, description="Registered by Tessera")
        if existing:
            version, created = existing[0], False
        else:
            version = mlflow.register_model(model_uri, name, tags=tags)
            created = True
        self.promote(name, str(version.version), alias)
        if (
            champion_if_none
            and alias != "champion"
            and "champion" not in (self.client.get_registered_model(name).aliases or {})
        ):
            self.promote(name, str(version.version), "champion")
        return self.version(name, str(version.version)), created

    def promote(self, name: str, version: str, alias: str) -> ModelVersionInfo:
        """Point `alias` at `version`, remembering where it pointed before."""
        info = self.version(name, version)
        history = self._history(name, alias)
        if not history or history[-1] != version:
            history.append(version)
        self.client.set_registered_model_alias(name, alias, version)
        self.client.set_registered_model_tag(name, HISTORY_TAG.format(alias=alias), json.dumps(history[-50:]))
        return self.version(name, info.version)

    def rollback(self, name: str, alias: str) -> ModelVersionInfo:
        """Point `alias` back at the version it pointed at before the last promote."""
        history = self._history(name, alias)
        if len(history) < 2:
            raise RegistryError(f"Alias '{alias}' of model '{name}' has no earlier version to roll back to")
        history.pop()
        previous = history[-1]
        self.client.set_registered_model_alias(name, alias, previous)
        self.client.set_registered_model_tag(name, HISTORY_TAG.format(alias=alias), json.dumps(history))
        return self.version(name, previous)

    def _history(self, name: str, alias: str) -> list[str]:
        self._require(name)
        tags = self.client.get_registered_model(name).tags or {}
        history: list[str] = json.loads(tags.get(HISTORY_TAG.format(alias=alias), "[]"))
        return history

    def _require(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(name)
        except MlflowException:
            names = [m.name for m in self.client.search_registered_models(max_results=1000)]
            raise RegistryError(
                f"No registered model '{name}'{did_you_mean(name, names)}; models: {one_of(names)}"
            ) from None

    def _info(self, version: Any, aliases: tuple[str, ...] | None = None) -> ModelVersionInfo:
        return ModelVersionInfo(
            name=version.name, version=str(version.version), aliases=aliases if aliases is not None else tuple(version.aliases or ()),
            run_id=version.run_id, source=version.source, created_at=int(version.creation_timestamp or 0),
            tags=dict(version.tags or {}),
        )  # fmt: skip
