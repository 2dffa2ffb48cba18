"""Events → per-entity features over time windows: what the features are, and a pandas version.

For every entity and every snapshot time `as_of`, over each window `w` (events with
`as_of - w <= event_time < as_of`):

- `event_count_{w}` and `{type}_count_{w}` for each event type;
- `{value}_sum_{w}` and `{value}_mean_{w}` for each value column (0 when there is no event);
- `distinct_{column}_{w}` for each distinct-count column;
- `days_since_last_{type}`: days from the type's latest event to `as_of`, looking back
  the longest window (that window's length in days when there is none).

An entity gets a row for a snapshot when it has any event in the longest window before it.
The snapshot time is written as `event_timestamp`, Feast's name for when a feature value
became true. `spark_aggregate` computes exactly this with Spark; `aggregate_events_pandas`
is the reference the tests and the benchmark compare it with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

SNAPSHOT_COLUMN = "event_timestamp"
_DURATION = re.compile(r"^(\d+)([smhdw])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(text: str, what: str) -> timedelta:
    """'7d' → 7 days; units s, m, h, d, w."""
    match = _DURATION.match(str(text).strip())
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{what}: '{text}' is not a duration; write a number and a unit, e.g. 30m, 12h, 7d or 2w")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@dataclass(frozen=True)
class EventAggregation:
    """What to compute; built with `EventAggregation.build` from component params."""

    entity: str
    time: str
    type_column: str
    event_types: tuple[str, ...]
    value_columns: tuple[str, ...]
    distinct_columns: tuple[str, ...]
    windows: tuple[tuple[str, timedelta], ...]
    snapshots: tuple[pd.Timestamp, ...]

    @property
    def lookback(self) -> timedelta:
        return max(length for _, length in self.windows)

    @staticmethod
    def build(
        entity: str,
        time: str,
        type_column: str,
        event_types: list[str],
        value_columns: list[str],
        distinct_columns: list[str],
        windows: list[str],
        snapshots: list[pd.Timestamp],
    ) -> EventAggregation:
        """Parse the windows and check the event types; the caller has checked the column names."""
        if not windows:
            raise ValueError("spark_aggregate: give at least one window, e.g. ['1d', '7d', '30d']")
        if not event_types:
            raise ValueError(f"spark_aggregate: the event table has no values in '{type_column}'")
        bad = [t for t in event_types if not re.match(r"^[A-Za-z0-9_]+$", str(t))]
        if bad:
            raise ValueError(f"spark_aggregate: event types {bad} cannot be column names; use letters, digits and _")
        return EventAggregation(
            entity=entity,
            time=time,
            type_column=type_column,
            event_types=tuple(str(t) for t in event_types),
            value_columns=tuple(value_columns),
            distinct_columns=tuple(distinct_columns),
            windows=tuple((w.strip(), parse_duration(w, f"window '{w}'")) for w in windows),
            snapshots=tuple(snapshots),
        )

    def feature_names(self) -> list[str]:
        names = []
        for label, _ in self.windows:
            names.append(f"event_count_{label}")
            names += [f"{t}_count_{label}" for t in self.event_types]
            for value in self.value_columns:
                names += [f"{value}_sum_{label}", f"{value}_mean_{label}"]
            names += [f"distinct_{column}_{label}" for column in self.distinct_columns]
        names += [f"days_since_last_{t}" for t in self.event_types]
        return names


def snapshot_times(last_event: pd.Timestamp, as_of: str, snapshots: int, every: str) -> list[pd.Timestamp]:
    """`snapshots` times, `every` apart, ending at `as_of` (default: midnight after the last event)."""
    if snapshots < 1:
        raise ValueError(f"snapshots must be at least 1, got {snapshots}")
    if as_of:
        try:
            end = pd.Timestamp(as_of)
        except ValueError:
            raise ValueError(
                f"as_of: '{as_of}' is not a date or time; write e.g. 2026-03-01 or 2026-03-01T12:00"
            ) from None
    else:
        end = pd.Timestamp(last_event).normalize() + pd.Timedelta(days=1)
    step = pd.Timedelta(parse_duration(every, "snapshot_every"))
    return sorted(end - i * step for i in range(snapshots))


def aggregate_events_pandas(events: pd.DataFrame, spec: EventAggregation) -> pd.DataFrame:
    """The features of the module docstring, computed with pandas (one snapshot at a time)."""
    frames = [_one_snapshot(events, spec, as_of) for as_of in spec.snapshots]
    result = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return result.sort_values([spec.entity, SNAPSHOT_COLUMN], kind="stable").reset_index(drop=True)


def _one_snapshot(events: pd.DataFrame, spec: EventAggregation, as_of: pd.Timestamp) -> pd.DataFrame:
    times = events[spec.time]
    recent = events[(times < as_of) & (times >= as_of - spec.lookback)]
    age = as_of - recent[spec.time]
    out = pd.DataFrame(index=pd.Index(np.sort(recent[spec.entity].unique()), name=spec.entity))
    for label, length in spec.windows:
        window = recent[age <= length]
        grouped = window.groupby(spec.entity)
        out[f"event_count_{label}"] = grouped.size()
        for event_type in spec.event_types:
            of_type = window[window[spec.type_column] == event_type]
            out[f"{event_type}_count_{label}"] = of_type.groupby(spec.entity).size()
        for value in spec.value_columns:
            out[f"{value}_sum_{label}"] = grouped[value].sum()
            out[f"{value}_mean_{label}"] = grouped[value].mean()
        for column in spec.distinct_columns:
            out[f"distinct_{column}_{label}"] = grouped[column].nunique()
    for event_type in spec.event_types:
        of_type = recent[recent[spec.type_column] == event_type]
        latest = of_type.groupby(spec.entity)[spec.time].max()
        out[f"days_since_last_{event_type}"] = (as_of - latest) / pd.Timedelta(days=1)
    counts = [c for c in out.columns if "_count_" in c or c.startswith("distinct_")]
    out[counts] = out[counts].fillna(0).astype("int64")
    recency = [c for c in out.columns if c.startswith("days_since_last_")]
    out[recency] = out[recency].fillna(spec.lookback / timedelta(days=1))
    out = out.fillna(0.0)
    out.insert(0, SNAPSHOT_COLUMN, as_of)
    out = out.reset_index()
    out[SNAPSHOT_COLUMN] = out[SNAPSHOT_COLUMN].astype("datetime64[us]")
    return out[[spec.entity, SNAPSHOT_COLUMN, *spec.feature_names()]]
