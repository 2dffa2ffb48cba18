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
