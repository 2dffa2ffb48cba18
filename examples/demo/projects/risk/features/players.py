"""Player features: what `spark_aggregate` computes from the event log, kept for training and scoring.

`feast_materialize` writes the rows to data/player_activity.parquet and loads the online
store; `feast_training_set` joins them point-in-time to labelled players.
"""

from datetime import timedelta

from feast import Entity, FeatureView, Field, FileSource
from feast.types import Float64, Int64
from feast.value_type import ValueType

EVENT_TYPES = ["login", "match", "payment", "report"]
WINDOWS = ["1d", "7d", "30d"]
VALUE_COLUMNS = ["amount", "score"]

player = Entity(name="player", join_keys=["player_id"], value_type=ValueType.INT64, description="a player account")

player_activity_source = FileSource(
    name="player_activity_source",
    path="data/player_activity.parquet",
    timestamp_field="event_timestamp",
)


def _fields() -> list[Field]:
    fields = []
    for window in WINDOWS:
        fields.append(Field(name=f"event_count_{window}", dtype=Int64))
        fields += [Field(name=f"{kind}_count_{window}", dtype=Int64) for kind in EVENT_TYPES]
        for value in VALUE_COLUMNS:
            fields += [
                Field(name=f"{value}_sum_{window}", dtype=Float64),
                Field(name=f"{value}_mean_{window}", dtype=Float64),
            ]
        fields.append(Field(name=f"distinct_device_id_{window}", dtype=Int64))
    fields += [Field(name=f"days_since_last_{kind}", dtype=Float64) for kind in EVENT_TYPES]
    return fields


player_activity = FeatureView(
    name="player_activity",
    entities=[player],
    ttl=timedelta(days=30),
    schema=_fields(),
    source=player_activity_source,
    online=True,
    description="player activity per 1d/7d/30d window, weekly snapshots",
)
