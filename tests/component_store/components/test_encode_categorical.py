import pandas as pd

from component_store.components.encode_categorical import encode_categorical
from component_store.runtime.player_risk import PLATFORMS, player_risk_table


def test_encode_categorical_onehot_excludes_ids(dataset, output):
    frame = player_risk_table(500)
    encoded = output("encoded")
    encode_categorical(table=dataset(frame), encoded=encoded, exclude=["player_id"])
    result = pd.read_parquet(encoded.path)
    assert "player_id" in result.columns and "platform" not in result.columns
    assert {f"platform={p}" for p in PLATFORMS} <= set(result.columns)
    assert result[[f"platform={p}" for p in PLATFORMS]].sum(axis=1).eq(1).all()
    assert encoded.metadata["encoding"]["categories"]["platform"] == sorted(PLATFORMS)


def test_encode_categorical_ordinal_and_rare_values(dataset, output):
    frame = player_risk_table(500)
    encoded = output("encoded")
    encode_categorical(table=dataset(frame), encoded=encoded, method="ordinal", columns=["country"], max_categories=3)
    result = pd.read_parquet(encoded.path)
    assert result["country"].dtype == "int64"
    assert result["country"].nunique() == 4  # three kept + other
    assert "other" in encoded.metadata["encoding"]["categories"]["country"]


def test_encode_categorical_leaves_identifiers_as_they_are_and_says_so(dataset, output, capsys):
    frame = player_risk_table(500)  # player_id: a different text value in every row
    encoded = output("encoded")
    encode_categorical(table=dataset(frame), encoded=encoded)
    result = pd.read_parquet(encoded.path)
    assert not [c for c in result.columns if c.startswith("player_id=")], "no feature per player"
    assert result["player_id"].tolist() == frame["player_id"].tolist()
    assert {"country", "platform"}.isdisjoint(result.columns), "real categories are still encoded"
    assert encoded.metadata["identifiers_left_as_is"] == ["player_id"]
    assert "left player_id as is" in capsys.readouterr().out

    forced = output("forced")
    encode_categorical(table=dataset(frame), encoded=forced, keep_identifiers=True, max_categories=5)
    assert "player_id=other" in pd.read_parquet(forced.path).columns
    named = output("named")
    encode_categorical(table=dataset(frame), encoded=named, columns=["player_id"], max_categories=5)
    assert "player_id=other" in pd.read_parquet(named.path).columns, "a column named in columns is encoded"


def test_a_small_table_or_a_repeating_column_is_not_taken_for_an_identifier():
    from component_store.runtime.tables import identifier_columns

    frame = pd.DataFrame({"id": [f"p{i}" for i in range(100)], "country": ["DE", "FR"] * 50,
                          "mostly": [f"v{i}" for i in range(85)] + ["x"] * 15})  # fmt: skip
    assert identifier_columns(frame, ["id", "country", "mostly"]) == ["id"]
    assert identifier_columns(frame.head(10), ["id"]) == [], "10 rows are too few to tell"
