"""The component store: published, frozen versions plus the source components.

    <store root>/
      index.json                 name -> version -> ComponentSpec (with its digest), and for a
                                 team store its status, author, message and review
      <name>/<version>.yaml      the frozen KFP component YAML, never edited

A workspace reads a `LayeredStore`: the built-in store (read-only, every version approved) and
the team stores of `tessera.yaml` (`stores:`; by default `components/` in the workspace: sources
`components/NAME.py`, their tests `components/tests/`, frozen versions `components/published/`).
A name lives in exactly one store. A team version is `review` when published, `approved` when an
approver says so, `deprecated` (with its replacement) when retired.

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
BUILTIN_NAME = "built-in"
INDEX_FILE = "index.json"
REVIEW_FIELDS = ("status", "author", "message", "approved_by", "replacement", "reason")
STATUSES = ("review", "approved", "deprecated")


@dataclass(frozen=True)
class PublishedVersion:
    """One frozen version: its spec, when it was published, where its YAML lies, and its review."""

    spec: ComponentSpec
    published_at: str
    yaml_path: Path
    store: str = BUILTIN_NAME
    status: str = "approved"
    author: str = ""
    message: str = ""
    approved_by: str = ""
    replacement: str = ""  # a deprecated version's successor, NAME@VERSION
    reason: str = ""


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

    def __init__(
        self,
        root: Path | None = None,
        sources: Iterable[str] = BUILTIN_SOURCES,
        *,
        name: str = BUILTIN_NAME,
        source_folder: Path | None = None,
        approvers: Iterable[str] = (),
    ):
        self.root = Path(root) if root else BUILTIN_STORE
        self.sources = tuple(sources)
        self.name = name
        self.source_folder = source_folder  # a team store's component files (NAME.py), loaded by path
        self.approvers = tuple(approvers)

    @property
    def team(self) -> bool:
        return self.source_folder is not None

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
                    store=self.name,
                    **{key: entry[key] for key in REVIEW_FIELDS if key in entry},
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

    def palette(self, include_review: bool = False) -> list[ComponentSpec]:
        """What a palette offers: per component, its newest approved version (or, with `include_review`,
        its newest version in review or approved); deprecated versions never."""
        wanted = ("approved", "review") if include_review else ("approved",)
        offered = []
        for name in self.names():
            usable = [v for v in self.versions(name) if self.info(name, v.version).status in wanted]
            if usable:
                offered.append(usable[-1])
        return offered

    def resolve_info(self, ref: str) -> PublishedVersion:
        """`info` for a `name@version` reference."""
        spec = self.resolve(ref)
        return self.info(spec.name, spec.version)

    def info(self, name: str, version: str) -> PublishedVersion:
        """A version's spec with its store and review (status, author, message, replacement)."""
        return self._published(name, version)

    def has(self, name: str) -> bool:
        return name in self._index

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

    def record(self, spec: ComponentSpec, component_yaml: str, **review: str) -> Path:
        """Freeze a new version: write its YAML, then add it to the index (both atomically).
        `review` (a team store's status, author, message) goes beside the spec."""
        yaml_path = self.root / spec.name / f"{spec.version}.yaml"
        write_atomically(yaml_path, component_yaml)
        entry = {"published_at": datetime.now(UTC).isoformat(timespec="seconds"), "spec": spec.model_dump(mode="json")}
        self._update_index(lambda raw: raw.setdefault(spec.name, {}).__setitem__(spec.version, entry | review))
        return yaml_path

    def set_review(self, name: str, version: str, **review: str) -> PublishedVersion:
        """Change a version's review fields (status, approved_by, replacement, reason); never its code."""
        self._published(name, version)
        unknown = set(review) - set(REVIEW_FIELDS)
        if unknown:
            raise ComponentError(f"unknown review field(s): {', '.join(sorted(unknown))}")
        self._update_index(lambda raw: raw[name][version].update(review))
        return self._published(name, version)

    def _update_index(self, change: Any) -> None:
        from tessera.stores import file_lock

        path = self.root / INDEX_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(path.with_name(INDEX_FILE + ".lock")):
            raw: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {"components": {}}
            change(raw["components"])
            raw["components"] = {
                n: dict(sorted(v.items(), key=lambda kv: version_key(kv[0])))
                for n, v in sorted(raw["components"].items())
            }
            write_atomically(path, json.dumps(raw, indent=2) + "\n")
        self.__dict__.pop("_index", None)

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
        for module in [*self._source_modules(), *self._source_files()]:
            for value in vars(module).values():
                if isinstance(value, StoreComponent):
                    if value.name in found and found[value.name] is not value:
                        raise ComponentError(f"Two source components are named '{value.name}'")
                    found[value.name] = value
        return found

    def _source_modules(self) -> list[Any]:
        modules = []
        for package_name in self.sources:
            package = importlib.import_module(package_name)
            modules.append(package)
            if hasattr(package, "__path__"):
                modules += [
                    importlib.import_module(f"{package_name}.{info.name}")
                    for info in pkgutil.iter_modules(package.__path__)
                ]
        return modules

    def _source_files(self) -> list[Any]:
        """A team store's component files, each imported by path as a module of its own."""
        import importlib.util
        import sys

        if self.source_folder is None or not self.source_folder.is_dir():
            return []
        modules = []
        for path in sorted(self.source_folder.glob("*.py")):
            if path.name.startswith("_"):
                continue
            module_name = f"tessera_store_{self.name.replace('-', '_')}_{path.stem}"
            spec = importlib.util.spec_from_file_location(module_name, path)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module  # inspect.getsource (kfp) finds the function's file through it
            try:
                spec.loader.exec_module(module)
            except Exception as exc:
                raise ComponentError(f"{path} does not import: {type(exc).__name__}: {exc}") from exc
            modules.append(module)
        return modules

    def source_path(self, name: str) -> Path | None:
        """The file a team component's source is in (None for built-in ones)."""
        import inspect

        return Path(inspect.getfile(self.source(name).source_function)) if self.team else None

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


class LayeredStore(ComponentStore):
    """The built-in store and a workspace's team stores read as one: a name resolves in the one store that
    holds it. Publishing goes to a team layer (`layer(name)`); `root` is the built-in layer's."""

    def __init__(self, layers: list[ComponentStore]):
        super().__init__(layers[0].root, layers[0].sources, name=layers[0].name)
        self.layers = layers

    @property
    def team_layers(self) -> list[ComponentStore]:
        return [layer for layer in self.layers if layer.team]

    def layer(self, name: str | None = None) -> ComponentStore:
        """A team layer by name (the first one when not given)."""
        teams = {layer.name: layer for layer in self.team_layers}
        if not teams:
            raise ComponentError("this workspace has no team store: add one under stores: in tessera.yaml")
        if name is None:
            return next(iter(teams.values()))
        if name not in teams:
            raise ComponentError(f"no team store '{name}'{did_you_mean(name, teams)}; team stores: {one_of(teams)}")
        return teams[name]

    def layer_of(self, name: str) -> ComponentStore:
        """The store that holds component `name` (published, or as a source in a team folder)."""
        for layer in self.layers:
            if layer.has(name):
                return layer
        for layer in self.layers:  # not published yet: the store whose sources hold it
            if name in layer.source_names():
                return layer
        self._require_name(name)
        raise AssertionError  # _require_name raised

    @cached_property
    def _index(self) -> dict[str, dict[str, PublishedVersion]]:
        merged: dict[str, dict[str, PublishedVersion]] = {}
        for layer in self.layers:
            for name, versions in layer._index.items():
                merged.setdefault(name, versions)  # a name held twice: the earlier layer wins, publish refuses it
        return merged

    @cached_property
    def _sources(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        for layer in self.layers:
            for name, component in layer._sources.items():
                found.setdefault(name, component)
        return found

    def record(self, spec: ComponentSpec, component_yaml: str, **review: str) -> Path:
        path = self.layer_of(spec.name).record(spec, component_yaml, **review)
        self.refresh()
        return path

    def set_review(self, name: str, version: str, **review: str) -> PublishedVersion:
        self.layer_of(name).set_review(name, version, **review)
        self.refresh()
        return self.info(name, version)

    def refresh_if_changed(self) -> None:
        """Read the team indexes again if a file changed since (another process published or approved)."""
        stamp = tuple(
            (layer.root / INDEX_FILE).stat().st_mtime_ns if (layer.root / INDEX_FILE).exists() else 0
            for layer in self.team_layers
        )
        if stamp != getattr(self, "_stamp", stamp):
            self.refresh()
        self._stamp = stamp

    def refresh(self) -> None:
        for layer in self.layers:
            layer.__dict__.pop("_index", None)
            layer.__dict__.pop("_sources", None)
        self.__dict__.pop("_index", None)
        self.__dict__.pop("_sources", None)


def workspace_store(workspace: Any, builtin_root: Path | None = None) -> LayeredStore:
    """The store a workspace reads: the built-in one (or `store:` of tessera.yaml), then its team stores."""
    configured = workspace.config.store
    root = builtin_root or (workspace.resolve(configured) if configured else None)
    layers = [ComponentStore(root)]
    for team in workspace.config.stores:
        folder = workspace.resolve(team.path)
        layers.append(
            ComponentStore(
                folder / "published", sources=(), name=team.name, source_folder=folder, approvers=team.approvers
            )
        )
    return LayeredStore(layers)
