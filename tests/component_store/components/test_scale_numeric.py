import numpy as np
import pandas as pd

from component_store.components.scale_numeric import scale_numeric
from component_store.runtime.player_risk import player_risk_table


def test_scale_numeric_standardises_but_not_the_label(dataset, output):
    frame = player_risk_table(1000)
    scaled = output("scaled")
    scale_numeric(table=dataset(frame), scaled=scaled, exclude=["is_cheater"])
    result = pd.read_parquet(scaled.path)
    assert np.isclose(result["kd_ratio"].mean(), 0, atol=1e-9)
    assert np.isclose(result["kd_ratio"].std(ddof=0), 1)
    assert result["is_cheater"].equals(frame["is_cheater"])
    assert scaled.metadata["scaling"]["columns"]["kd_ratio"]["centre"] == frame["kd_ratio"].mean()


def test_scale_numeric_minmax(dataset, output):
    scaled = output("scaled")
    scale_numeric(table=dataset(player_risk_table(300)), scaled=scaled, method="minmax", columns=["logins_7d"])
    result = pd.read_parquet(scaled.path)
    assert result["logins_7d"].min() == 0 and result["logins_7d"].max() == 1
