"""Publishing: vet a source component and freeze its version in the store.

A published version is immutable. Publishing the same code again is a no-op;
publishing changed code under a version that exists is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from component_store.decorator import component_digest
from component_store.spec import ComponentSpec
from component_store.store import ComponentStore, LayeredStore
from component_store.versions import VersionChange, classify_change, next_version
from component_store.vet import vet_or_raise
from tessera.errors import ComponentNotFound, PublishRefused


@dataclass(frozen=True)
class PublishResult:
    ref: str
    outcome: Literal["published", "unchanged"]
    digest: str
    path: Path


def publish(component: Any, store: ComponentStore, tests_root: Path | None) -> PublishResult:
    """Vet `component` (a `StoreComponent`) and freeze it as `name@version` in `store`.

    Raises:
        VetFailed: the component breaks a store promise (every problem listed).
        PublishRefused: that version exists with other code; bump the version.
    """
    vet_or_raise(component, tests_root)
    component_yaml = component.to_component_yaml()
    digest = component_digest(component_yaml)
    spec = component.spec.model_copy(update={"digest": digest})
    try:
        existing = store.get(spec.name, spec.version)
    except ComponentNotFound:
        existing = None
    if existing is not None:
        if existing.digest == digest and existing == spec:
            return PublishResult(spec.ref, "unchanged", digest, store.root / spec.name / f"{spec.version}.yaml")
        newer = spec.version.split(".")
        newer[-1] = str(int(newer[-1]) + 1)
        raise PublishRefused(
            f"{spec.ref} is already published with different code or metadata, and published versions "
            f"never change. Bump the version in its @component(...) (e.g. to {'.'.join(newer)}) and publish again."
        )
    path = store.record(spec, component_yaml)
    return PublishResult(spec.ref, "published", digest, path)


def unpublished_changes(store: ComponentStore) -> list[str]:
    """Source components whose version is published with other code (should be empty in CI)."""
    stale = []
    for name in store.source_names():
        component = store.source(name)
        try:
            published = store.get(name, component.version)
        except ComponentNotFound:
            continue
        if published.digest != component_digest(component.to_component_yaml()):
            stale.append(component.spec.ref)
    return stale


@dataclass(frozen=True)
class TeamPublishResult:
    ref: str
    outcome: Literal["published", "unchanged"]
    change: VersionChange
    previous: str | None  # the version this one follows
    path: Path


def publish_to_team(
    spec: ComponentSpec, component_yaml: str, store: LayeredStore, *, author: str, message: str, into: str | None = None
) -> TeamPublishResult:
    """Freeze a vetted component (or an imported YAML) in a team store, in review, under the version its
    change calls for (component_store/versions.py).

    Raises:
        PublishRefused: the name belongs to another store (the built-in one, or another team's).
    """
    target = store.layer(into) if into else team_layer_for(spec.name, store)
    check_name_free(store, spec.name, target)
    spec = spec.model_copy(update={"digest": component_digest(component_yaml)})
    latest = target.latest(spec.name) if target.has(spec.name) else None
    if latest is None:
        change = VersionChange("major", ("first version",))
    else:
        change = classify_change(latest, spec.model_copy(update={"version": latest.version}))
    if latest is not None and change.bump == "none":
        return TeamPublishResult(latest.ref, "unchanged", change, latest.version, target.root / spec.name)
    version = next_version(latest.version if latest else None, change.bump)
    frozen = spec.model_copy(update={"version": version})
    path = target.record(frozen, component_yaml, status="review", author=author, message=message)
    store.refresh()
    return TeamPublishResult(frozen.ref, "published", change, latest.version if latest else None, path)


def check_name_free(store: LayeredStore, name: str, target: ComponentStore) -> None:
    """Refuse a name another store holds: a name lives in one store only."""
    if store.has(name) and store.layer_of(name) is not target:
        holder = store.layer_of(name).name
        raise PublishRefused(
            f"'{name}' is a component of the {holder} store; a name lives in one store only: "
            f"rename yours (e.g. '{name}_{target.name.replace('-', '_')}')"
        )


def team_layer_for(name: str, store: LayeredStore) -> ComponentStore:
    """The team store whose folder holds the component's source, or that has published it; else the first."""
    for layer in store.team_layers:
        if layer.has(name) or name in layer.source_names():
            return layer
    return store.layer()
