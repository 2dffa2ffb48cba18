from typing import Annotated

from kfp.dsl import Dataset, Output

from component_store.decorator import component


@component(
    name="generate_event_log",
    version="1.0.0",
    category="data",
    tags=["demo", "events", "player-risk", "spark"],
    owner="platform",
)
def generate_event_log(
    events: Output[Dataset],
    labels: Output[Dataset],
    players: Annotated[int, (1, 2_000_000)] = 2000,
    days: Annotated[int, (1, 365)] = 60,
    cheater_share: Annotated[float, (0.0, 1.0)] = 0.05,
    seed: int = 42,
):
    """Generate a synthetic game event log (logins, payments, matches, reports) with cheater labels.

    About 5 events per player per day: 2,000 players over 60 days give ≈ 0.6 million
    events, 16,000 players ≈ 5 million. Cheaters play more, score higher, are reported
    more and switch devices. Each player's label carries the time the decision was made,
    so features must be taken as of that time (point-in-time).

    Args:
        events: one row per event: player_id, event_time, event_type, amount, score, device_id.
        labels: one row per player: player_id, event_timestamp (decision time), is_cheater (0/1).
        players: how many players; quick mode caps it at the sample size.
        days: how many days of events, from 2026-01-01.
        cheater_share: share of players who cheat.
        seed: random seed; the same seed gives the same log.
    """
    from component_store.runtime.event_log import event_log_with_labels
    from component_store.runtime.tables import row_limit, write_table

    event_table, label_table = event_log_with_labels(row_limit(players) or players, days, seed, cheater_share)
    write_table(event_table, events)
    write_table(label_table, labels)
    events.metadata["players"] = int(label_table.shape[0])
