import json

import pytest

from component_store.store import ComponentStore
from pipelines.usage import component_usages
from tessera.errors import ComponentError, ComponentNotFound

DATA_COMPONENTS = {
    "sample_dataset",
    "load_table",
    "sql_query",
    "validate_schema",
    "profile_table",
    "select_columns",
    "filter_rows",
    "fill_missing",
    "encode_categorical",
    "scale_numeric",
    "train_test_split",
}


def test_store_lists_every_vetted_component(store):
    assert DATA_COMPONENTS <= set(store.names())
    assert {s.category for s in store.search()} >= {"data", "validate", "transform"}


def test_search_by_text_category_and_tag(store):
    assert [s.name for s in store.search("pandera")] == ["validate_schema"]
    assert {s.name for s in store.search(category="data")} >= {"sample_dataset", "load_table", "sql_query"}
    assert [s.name for s in store.search(tag="stratified")] == ["train_test_split"]
    assert store.search("no such thing at all") == []


def test_resolve_needs_a_pinned_version(store):
    assert store.resolve("train_test_split@1.0.0").name == "train_test_split"
    with pytest.raises(ComponentNotFound, match="pin one, e.g. 'train_test_split@1.1.0'"):
        store.resolve("train_test_split")


def test_unknown_name_and_version_suggest(store):
    with pytest.raises(ComponentNotFound, match="did you mean 'train_test_split'"):
        store.resolve("train_test_splt@1.0.0")
    with pytest.raises(ComponentNotFound, match="no version '1.0.1' .*published versions: '1.0.0'"):
        store.resolve("train_test_split@1.0.1")


def test_frozen_yaml_is_checked_against_its_digest(tmp_store):
    path = tmp_store.root / "select_columns" / "1.0.0.yaml"
    assert "select_columns" in tmp_store.component_yaml("select_columns", "1.0.0")
    path.write_text(path.read_text().replace("Keep (or drop)", "Keep"))
    with pytest.raises(ComponentError, match="a frozen version was edited"):
        tmp_store.component_yaml("select_columns", "1.0.0")


def test_versions_sort_semantically(tmp_store):
    index = json.loads((tmp_store.root / "index.json").read_text())
    entry = index["components"]["select_columns"]["1.0.0"]
    for version in ("1.10.0", "1.9.0"):
        index["components"]["select_columns"][version] = entry | {"spec": entry["spec"] | {"version": version}}
    (tmp_store.root / "index.json").write_text(json.dumps(index))
    fresh = ComponentStore(tmp_store.root)
    assert [s.version for s in fresh.versions("select_columns")] == ["1.0.0", "1.1.0", "1.9.0", "1.10.0"]
    assert fresh.latest("select_columns").version == "1.10.0"


def test_used_by_finds_the_demo_workflow(demo_workspace):
    usages = component_usages(demo_workspace, "train_test_split", "1.0.0")
    assert sorted((u.workflow, u.node) for u in usages) == [("risk/player_features", "split")]
    newer = component_usages(demo_workspace, "train_test_split", "1.1.0")
    assert sorted((u.workflow, u.node) for u in newer) == [
        ("risk/cheater_detection", "split"),
        ("risk/cheater_detection_feast", "split"),
    ]
    assert component_usages(demo_workspace, "sql_query") == []
