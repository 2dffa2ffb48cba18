import pandas as pd
import pytest

from component_store.components.train_test_split import train_test_split
from component_store.runtime.player_risk import player_risk_table


def test_train_test_split_is_stratified_and_seeded(dataset, output):
    frame = player_risk_table(4000)
    table = dataset(frame)
    train, test = output("train"), output("test")
    train_test_split(table=table, train=train, test=test, label="is_cheater", test_size=0.25)
    train_frame, test_frame = pd.read_parquet(train.path), pd.read_parquet(test.path)
    assert len(train_frame) == 3000 and len(test_frame) == 1000
    assert set(train_frame.player_id).isdisjoint(test_frame.player_id)
    assert abs(train_frame.is_cheater.mean() - test_frame.is_cheater.mean()) < 0.003
    again_train, again_test = output("train2"), output("test2")
    train_test_split(table=table, train=again_train, test=again_test, label="is_cheater", test_size=0.25)
    assert pd.read_parquet(again_test.path).equals(test_frame)
    assert test.metadata["label"] == "is_cheater"


def test_train_test_split_needs_label_to_stratify(dataset, output):
    with pytest.raises(ValueError, match="stratify needs the label column"):
        train_test_split(table=dataset(player_risk_table(50)), train=output("a"), test=output("b"))
