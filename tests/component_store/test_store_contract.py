"""One contract for every store a workspace reads, built-in and team: pinned references resolve, a typo or a
missing version is answered with what exists, an edited frozen YAML is refused, search finds by name and
category, and each version reports its store and status."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from component_store.importer import spec_from_component_yaml
from component_store.publish import publish_to_team
from component_store.store import BUILTIN_STORE, ComponentStore, LayeredStore, workspace_store
from tessera.errors import ComponentError, ComponentNotFound
from tessera.workspace import init_workspace


@pytest.fixture(params=["built-in", "team"])
def case(request, tmp_path: Path) -> tuple[LayeredStore, str, str]:
    """(store, a component name held by the store under test, that store's name)."""
    builtin = tmp_path / "builtin"
    shutil.copytree(BUILTIN_STORE, builtin)
    store = workspace_store(init_workspace(tmp_path / "ws"), builtin_root=builtin)
    if request.param == "built-in":
        return store, "select_columns", "built-in"
    text = ComponentStore(builtin).component_yaml("select_columns", "1.0.0")
    for version_text in (text, text.replace("Keep (or drop)", "Keep, or drop,")):  # a body change: a patch
        spec = spec_from_component_yaml(version_text, "transform", name="pick_columns")
        publish_to_team(spec, version_text, store, author="engineer@risk.example", message="imported")
    return store, "pick_columns", "team"


def test_pinned_references_resolve_and_unpinned_ones_name_the_latest(case) -> None:
    store, name, _ = case
    latest = store.latest(name).version
    assert store.resolve(f"{name}@{latest}").name == name
    with pytest.raises(ComponentNotFound, match=f"pin one, e.g. '{name}@{latest}'"):
        store.resolve(name)


def test_typos_and_missing_versions_are_answered_with_what_exists(case) -> None:
    store, name, _ = case
    with pytest.raises(ComponentNotFound, match=f"did you mean '{name}'"):
        store.resolve(f"{name[:-1]}@1.0.0")
    with pytest.raises(ComponentNotFound, match="no version '9.9.9'.*published versions: '1.0.0'"):
        store.resolve(f"{name}@9.9.9")


def test_an_edited_frozen_yaml_is_refused(case) -> None:
    store, name, _ = case
    info = store.info(name, "1.0.0")
    info.yaml_path.write_text(info.yaml_path.read_text().replace("columns", "colums"))
    with pytest.raises(ComponentError, match="a frozen version was edited"):
        store.component_yaml(name, "1.0.0")


def test_search_and_review_status(case) -> None:
    store, name, layer = case
    assert name in [s.name for s in store.search(name)]
    assert name in [s.name for s in store.search(category="transform")]
    info = store.info(name, store.latest(name).version)
    assert info.store == layer
    assert info.status == ("approved" if layer == "built-in" else "review")
    assert store.layer_of(name).name == layer
