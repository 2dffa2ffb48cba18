from typing import Annotated, Literal

from kfp.dsl import Dataset, Output

from component_store.decorator import component


@component(
    name="sample_dataset", version="1.0.0", category="data", tags=["demo", "sklearn", "player-risk"], owner="platform"
)
def sample_dataset(
    table: Output[Dataset],
    dataset: Literal["player_risk", "breast_cancer", "wine", "iris", "diabetes", "digits"] = "player_risk",
    rows: Annotated[int, (0, 5_000_000)] = 0,
    seed: int = 42,
):
    """Load a built-in demo table: scikit-learn's sets or a synthetic player-risk table.

    The player-risk table has one row per player with login, payment, match and report
    features and an `is_cheater` label (about 4 % positive). scikit-learn's tables keep
    their feature names and put the label in a `target` column.

    Args:
        table: the table, as Parquet.
        dataset: which table to load.
        rows: how many rows to return; 0 returns the whole table (5,000 players for player_risk).
        seed: random seed of the synthetic player-risk table.
    """
    from component_store.runtime.tables import limit_rows, row_limit, write_table

    if dataset == "player_risk":
        from component_store.runtime.player_risk import player_risk_table

        frame = player_risk_table(players=row_limit(rows) or 5000, seed=seed)
    else:
        from sklearn import datasets

        loader = getattr(datasets, f"load_{dataset}")
        frame = loader(as_frame=True).frame
        frame.columns = [str(c) for c in frame.columns]
        frame = limit_rows(frame, rows)
    write_table(frame, table)
