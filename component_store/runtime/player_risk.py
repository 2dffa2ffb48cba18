"""A seeded synthetic player-risk table: one row per player, `is_cheater` as the label.

Cheaters (about 4 %) differ from honest players the way a risk team sees it in real
logs: more reports, higher headshot ratio and K/D, younger accounts, more devices,
more chargebacks. The signal is noisy on purpose, so models do not score a perfect AUC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COUNTRIES = ["BR", "CN", "DE", "KR", "RU", "US", "VN"]
PLATFORMS = ["pc", "console", "mobile"]
LABEL = "is_cheater"


def player_risk_table(players: int = 5000, seed: int = 42) -> pd.DataFrame:
    """`players` rows of login, payment, match and report features plus `is_cheater`."""
    rng = np.random.default_rng(seed)
    n = players
    account_age_days = rng.gamma(2.0, 180.0, n).round().astype(int) + 1
    platform = rng.choice(PLATFORMS, n, p=[0.5, 0.2, 0.3])
    country = rng.choice(COUNTRIES, n)
    logins_7d = rng.poisson(9, n)
    avg_session_minutes = rng.gamma(3.0, 15.0, n).round(1)
    matches_7d = rng.poisson(logins_7d * 2.5)
    payments_30d = rng.poisson(0.8, n)
    payment_amount_30d = (payments_30d * rng.gamma(2.0, 9.0, n)).round(2)
    chargebacks_90d = rng.binomial(payments_30d + 1, 0.01)
    device_count = 1 + rng.poisson(0.4, n)
    win_rate = np.clip(rng.normal(0.5, 0.08, n), 0, 1).round(3)
    headshot_ratio = np.clip(rng.beta(2, 8, n), 0, 1).round(3)
    kd_ratio = np.clip(rng.lognormal(0.0, 0.35, n), 0.05, None).round(2)
    reports_received_30d = rng.poisson(0.3 + matches_7d * 0.01)

    risk = (
        -4.1
        + 1.3 * np.log1p(reports_received_30d)
        + 5.5 * (headshot_ratio - 0.2)
        + 1.1 * (kd_ratio - 1.0)
        - 0.0025 * account_age_days
        + 0.45 * (device_count - 1)
        + 0.9 * chargebacks_90d
        + 0.4 * (platform == "pc")
        + rng.normal(0, 0.6, n)
    )
    is_cheater = rng.random(n) < 1 / (1 + np.exp(-risk))
    # Cheaters who were caught generate more reports and play more aggressively.
    reports_received_30d = reports_received_30d + rng.poisson(2.5 * is_cheater)
    headshot_ratio = np.clip(headshot_ratio + 0.12 * is_cheater * rng.random(n), 0, 1).round(3)

    frame = pd.DataFrame(
        {
            "player_id": [f"p{seed:03d}{i:07d}" for i in range(n)],
            "account_age_days": account_age_days,
            "country": country,
            "platform": platform,
            "logins_7d": logins_7d,
            "avg_session_minutes": avg_session_minutes,
            "matches_7d": matches_7d,
            "win_rate": win_rate,
            "headshot_ratio": headshot_ratio,
            "kd_ratio": kd_ratio,
            "payments_30d": payments_30d,
            "payment_amount_30d": payment_amount_30d,
            "chargebacks_90d": chargebacks_90d,
            "device_count": device_count,
            "reports_received_30d": reports_received_30d,
            LABEL: is_cheater.astype(int),
        }
    )
    # Session length is missing for about 2 % of players (telemetry gaps).
    frame.loc[rng.random(n) < 0.02, "avg_session_minutes"] = np.nan
    return frame
