"""The component store: published, frozen versions plus the source components.

    <store root>/
      index.json                 name -> version -> ComponentSpec (with its digest)
      <name>/<version>.yaml      the frozen KFP component YAML, never edited

Reading the store (list, search, resolve `name@version`) touches only these files:
no kfp, no component code, so the CLI and the studio stay fast. The source components
(the decorated functions in `component_store.components`) are imported only to vet or
publish them.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from component_store.spec import ComponentSpec, version_key
from tessera.errors import ComponentError, ComponentNotFound
from tessera.suggest import did_you_mean, one_of
from tessera.workspace import write_atomically

BUILTIN_STORE = Path(__file__).parent / "published"
BUILTIN_SOURCES = ("component_store.components",)
INDEX_FILE = "index.json"


@dataclass(frozen=True)
class PublishedVersion:
    """One frozen version: its spec, when it was published and where its YAML lies."""

    spec: ComponentSpec
    published_at: str
    yaml_path: Path


def parse_ref(ref: str) -> tuple[str, str | None]:
    """`'split@1.0.0'` -> `('split', '1.0.0')`; `'split'` -> `('split', None)`."""
    name, _, version = ref.partition("@")
    return name.strip(), (version.strip() or None)


class ComponentStore:
    """Published component versions (read side) and source components (publish side).

    Example:
        >>> store = ComponentStore()
        >>> store.resolve("train_test_split@1.0.0").outputs  # doctest: +SKIP
    """

    def __init__(self, root: Path | None = None, sources: Iterable[str] = BUILTIN_SOURCES):
        self.root = Path(root) if root else BUILTIN_STORE
        self.sources = tuple(sources)

    # ---- published versions -------------------------------------------------------------

    @cached_property
    def _index(self) -> dict[str, dict[str, PublishedVersion]]:
        path = self.root / INDEX_FILE
        if not path.exists():
            return {}
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ComponentError(f"Store index {path} is corrupt ({exc}); restore it from version control") from exc
        return {
            name: {
                version: PublishedVersion(
                    spec=ComponentSpec.model_validate(entry["spec"]),
                    published_at=entry["published_at"],
                    yaml_path=self.root / name / f"{version}.yaml",
                )
                for version, entry in versions.items()
            }
            for name, versions in raw.get("components", {}).items()
        }

    def names(self) -> list[str]:
        return sorted(self._index)

    def versions(self, name: str) -> list[ComponentSpec]:
        """Every published version of `name`, oldest first."""
        self._require_name(name)
        return [v.spec for _, v in sorted(self._index[name].items(), key=lambda kv: version_key(kv[0]))]

    def latest(self, name: str) -> ComponentSpec:
        return self.versions(name)[-1]

    def get(self, name: str, version: str) -> ComponentSpec:
        """The spec of `name@version`.

        Raises:
            ComponentNotFound: naming close names or the versions that exist.
        """
        return self._published(name, version).spec

    def resolve(self, ref: str) -> ComponentSpec:
        """The spec for a `name@version` reference as workflows write it."""
        name, version = parse_ref(ref)
        if version is None:
            self._require_name(name)
            raise ComponentNotFound(
                f"Component reference '{ref}' has no version; pin one, e.g. '{name}@{self.latest(name).version}'"
            )
        return self.get(name, version)

    def published_at(self, name: str, version: str) -> str:
        return self._published(name, version).published_at

    def component_yaml(self, name: str, version: str) -> str:
        """The frozen KFP component YAML of `name@version`, checked against its digest."""
        from component_store.decorator import component_digest

        published = self._published(name, version)
        text = published.yaml_path.read_text()
        if component_digest(text) != published.spec.digest:
            raise ComponentError(
                f"{published.yaml_path} does not match the digest in the store index: a frozen version was edited. "
                "Restore it from version control and publish changes as a new version."
            )
        return text

    def search(
        self, text: str | None = None, *, category: str | None = None, tag: str | None = None
    ) -> list[ComponentSpec]:
        """The latest version of every component matching all the filters given.

        `text` matches name, summary, description and tags, case-insensitively.
        """
        found = []
        for name in self.names():
            spec = self.latest(name)
            haystack = " ".join([spec.name, spec.summary, spec.description, *spec.tags]).lower()
            if text and text.lower() not in haystack:
                continue
            if category and spec.category != category:
                continue
            if tag and tag not in spec.tags:
                continue
            found.append(spec)
        return found

    def record(self, spec: ComponentSpec, component_yaml: str) -> Path:
        """Freeze a new version: write its YAML, then add it to the index (both atomically)."""
        yaml_path = self.root / spec.name / f"{spec.version}.yaml"
        write_atomically(yaml_path, component_yaml)
        path = self.root / INDEX_FILE
        raw: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"components": {}}
        raw["components"].setdefault(spec.name, {})[spec.version] = {
            "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "spec": spec.model_dump(mode="json"),
        }
        raw["components"] = {
            n: dict(sorted(v.items(), key=lambda kv: version_key(kv[0]))) for n, v in sorted(raw["components"].items())
        }
        write_atomically(path, json.dumps(raw, indent=2) + "\n")
        self.__dict__.pop("_index", None)
        return yaml_path

    def _published(self, name: str, version: str) -> PublishedVersion:
        self._require_name(name)
        versions = self._index[name]
        if version not in versions:
            raise ComponentNotFound(
                f"Component '{name}' has no version '{version}'{did_you_mean(version, versions)}; "
                f"published versions: {one_of(versions)}"
            )
        return versions[version]

    def _require_name(self, name: str) -> None:
        if name not in self._index:
            raise ComponentNotFound(
                f"No component '{name}' in the store{did_you_mean(name, self._index)}; "
                "see them with: tessera components list"
            )

    # ---- source components --------------------------------------------------------------

    @cached_property
    def _sources(self) -> dict[str, Any]:
        from component_store.decorator import StoreComponent

        found: dict[str, StoreComponent] = {}
        for package_name in self.sources:
            package = importlib.import_module(package_name)
            modules = [package]
            if hasattr(package, "__path__"):
                modules += [
                    importlib.import_module(f"{package_name}.{info.name}")
                    for info in pkgutil.iter_modules(package.__path__)
                ]
            for module in modules:
                for value in vars(module).values():
                    if isinstance(value, StoreComponent):
                        if value.name in found and found[value.name] is not value:
                            raise ComponentError(f"Two source components are named '{value.name}'")
                        found[value.name] = value
        return found

    def source_names(self) -> list[str]:
        return sorted(self._sources)

    def source(self, name: str) -> Any:
        """The decorated source component `name` (a `StoreComponent`)."""
        if name not in self._sources:
            raise ComponentNotFound(
                f"No source component '{name}'{did_you_mean(name, self._sources)}; "
                f"source components: {one_of(self._sources)}"
            )
        return self._sources[name]
