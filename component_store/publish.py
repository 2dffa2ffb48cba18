"""Publishing: vet a source component and freeze its version in the store.

A published version is immutable. Publishing the same code again is a no-op;
publishing changed code under a version that exists is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from component_store.decorator import component_digest
from component_store.store import ComponentStore
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
