from kfp.dsl import Markdown

from component_store.components.profile_table import profile_table
from component_store.runtime.player_risk import player_risk_table


def test_profile_table_counts_missing_and_distinct(dataset, output):
    frame = player_risk_table(1000)
    profile = output("profile", Markdown)
    profile_table(table=dataset(frame), profile=profile)
    text = open(profile.path).read()
    assert "Rows: 1000, columns: 16" in text
    missing = int(frame["avg_session_minutes"].isna().sum())
    assert missing > 0
    line = next(line for line in text.splitlines() if line.startswith("| avg_session_minutes"))
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[:3] == ["avg_session_minutes", "float64", str(missing)]
    assert profile.metadata["missing_cells"] == missing
