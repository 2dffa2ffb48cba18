"""combine_tables: a loop's tables stacked in loop order; missing columns empty; a source column on request."""

from __future__ import annotations

import pandas as pd
import pytest

from component_store.components.combine_tables import combine_tables
from component_store.store import ComponentStore


def test_combine_tables_stacks_tables_in_order_with_their_position(dataset, output) -> None:
    eu = dataset(pd.DataFrame({"player_id": ["p1", "p2"], "risk": [0.1, 0.2]}), "eu")
    na = dataset(pd.DataFrame({"player_id": ["p3"], "risk": [0.9], "region_only": ["x"]}), "na")
    combined = output("combined")
    combine_tables(tables=[eu, na], combined=combined, source_column="part")
    frame = pd.read_parquet(combined.path)
    assert frame["player_id"].tolist() == ["p1", "p2", "p3"] and frame["part"].tolist() == [0, 0, 1]
    assert frame["region_only"].isna().tolist() == [True, True, False]
    assert combined.metadata["rows"] == 3 and combined.metadata["tables"] == 2
    with pytest.raises(ValueError, match="already have a column 'risk'"):
        combine_tables(tables=[eu], combined=output("again"), source_column="risk")


def test_the_store_knows_tables_takes_a_list() -> None:
    spec = ComponentStore().resolve("combine_tables@1.0.0")
    assert spec.input("tables").many and not spec.output("combined").many
