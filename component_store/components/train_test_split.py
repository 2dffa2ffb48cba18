from typing import Annotated

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(
    name="train_test_split", version="1.1.0", category="transform", tags=["split", "stratified"], owner="platform"
)
def train_test_split(
    table: Input[Dataset],
    train: Output[Dataset],
    test: Output[Dataset],
    label: str = "",
    test_size: Annotated[float, (0.05, 0.95)] = 0.2,
    stratify: bool = True,
    seed: int = 42,
):
    """Split a table into train and test sets, stratified by the label so rare classes appear in both.

    Args:
        table: the input table.
        train: the training rows.
        test: the held-out test rows.
        label: the label column; needed to stratify.
        test_size: the share of rows that goes to the test set.
        stratify: keep the label's class balance the same in both sets.
        seed: random seed, so the same data always splits the same way.
    """
    from sklearn.model_selection import train_test_split as split

    from component_store.runtime.tables import read_table, require_columns, write_table

    frame = read_table(table)
    if stratify and not label:
        raise ValueError("train_test_split: stratify needs the label column; set label, or set stratify to false")
    if label:
        require_columns(frame, [label], "train_test_split")
    strata = frame[label] if (stratify and label) else None
    if strata is not None and strata.value_counts().min() < 2:
        raise ValueError(f"train_test_split: a class of '{label}' has fewer than 2 rows, so it cannot be stratified")
    train_frame, test_frame = split(frame, test_size=test_size, random_state=seed, stratify=strata)
    write_table(train_frame.reset_index(drop=True), train)
    write_table(test_frame.reset_index(drop=True), test)
    from serving.inference_pipeline import CHAIN_KEY, chain_of

    chain = chain_of(table.metadata, frame)  # splitting rows adds no step: serving sees one row at a time
    train.metadata[CHAIN_KEY] = test.metadata[CHAIN_KEY] = chain
    if label:
        for artifact, part in ((train, train_frame), (test, test_frame)):
            artifact.metadata["label"] = label
            artifact.metadata["label_mean"] = (
                round(float(part[label].mean()), 6) if part[label].dtype.kind in "biuf" else None
            )
