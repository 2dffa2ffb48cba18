"""A seeded synthetic game event log: logins, payments, matches and reports per player.

One row per event (`player_id, event_time, event_type, amount, score, device_id`) and a
label table (`player_id, event_timestamp, is_cheater`) whose `event_timestamp` is when
the risk team decided about the player, somewhere in the last third of the period, so
features must be taken as of that moment (point-in-time) and not from the whole log.

Cheaters (about 5 %) play more matches with higher scores, get reported more, switch
devices more and pay less. A few million rows take a few seconds: everything is drawn
in numpy arrays, never per event in Python.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EVENT_TYPES = ("login", "payment", "match", "report")
# Events per player per day, honest vs cheater.
_DAILY_RATE = {
    "login": (2.0, 2.2),
    "payment": (0.08, 0.06),
    "match": (3.0, 3.5),
    "report": (0.05, 0.11),
}
START = pd.Timestamp("2026-01-01")


def event_log(players: int = 2000, days: int = 60, seed: int = 42, cheater_share: float = 0.05) -> pd.DataFrame:
    """The events of `players` players over `days` days from 2026-01-01, sorted by time."""
    events, _ = event_log_with_labels(players, days, seed, cheater_share)
    return events


def event_log_with_labels(
    players: int = 2000, days: int = 60, seed: int = 42, cheater_share: float = 0.05
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, labels) for `players` players over `days` days; see the module docstring."""
    if players < 1 or days < 1:
        raise ValueError(f"event_log needs at least one player and one day, got players={players}, days={days}")
    rng = np.random.default_rng(seed)
    is_cheater = rng.random(players) < cheater_share
    activity = rng.gamma(4.0, 0.25, players)  # some players play far more than others
    devices = 1 + np.minimum(rng.poisson(np.where(is_cheater, 0.9, 0.4)), 8)
    frames = []
    for event_type, (honest, cheater) in _DAILY_RATE.items():
        rate = np.where(is_cheater, cheater, honest) * activity * days
        counts = rng.poisson(rate)
        player_ids = np.repeat(np.arange(players, dtype=np.int64), counts)
        n = len(player_ids)
        offsets_us = (rng.random(n) * days * 86_400e6).astype(np.int64)
        amount = np.zeros(n)
        score = np.zeros(n)
        if event_type == "payment":
            amount = rng.gamma(2.0, 8.0, n).round(2)
        if event_type == "match":
            score = np.clip(rng.normal(np.where(is_cheater[player_ids], 1.08, 1.0), 0.35), 0, None).round(3)
        device_id = player_ids * 10 + rng.integers(0, devices[player_ids])
        frames.append(
            pd.DataFrame(
                {
                    "player_id": player_ids,
                    "event_time": START + pd.to_timedelta(offsets_us, unit="us"),
                    "event_type": event_type,
                    "amount": amount,
                    "score": score,
                    "device_id": device_id,
                }
            )
        )
    events = pd.concat(frames, ignore_index=True).sort_values("event_time", kind="stable").reset_index(drop=True)
    events["event_time"] = events["event_time"].astype("datetime64[us]")
    label_day = rng.uniform(days * 2 / 3, days, players)
    labels = pd.DataFrame(
        {
            "player_id": np.arange(players, dtype=np.int64),
            "event_timestamp": (START + pd.to_timedelta(label_day, unit="D")).astype("datetime64[us]"),
            "is_cheater": is_cheater.astype(np.int64),
        }
    )
    return events, labels
