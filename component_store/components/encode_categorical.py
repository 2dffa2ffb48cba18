from typing import Annotated, Literal

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(
    name="encode_categorical",
    version="1.2.0",
    category="transform",
    tags=["encoding", "one-hot", "features"],
    owner="platform",
)
def encode_categorical(
    table: Input[Dataset],
    encoded: Output[Dataset],
    method: Literal["onehot", "ordinal"] = "onehot",
    columns: list = [],
    exclude: list = [],
    max_categories: Annotated[int, (2, 1000)] = 50,
    keep_identifiers: bool = False,
):
    """Turn text columns into numbers: one-hot columns or ordinal codes.

    The categories found are recorded in the output's metadata, so scoring can use the
    same encoding. Rare values beyond max_categories fall into an `other` category.
    A text column with a different value in (nearly) every row, such as a player id, is
    an identifier, not a category: it is left as it is unless keep_identifiers is set or
    it is named in columns, and the step's log and metadata say so.

    Args:
        table: the input table.
        encoded: the table with the categorical columns encoded.
        method: onehot adds a 0/1 column per category; ordinal replaces values by a code.
        columns: the columns to encode; empty encodes every text or category column.
        exclude: columns never to encode, such as an id or the label.
        max_categories: the most frequent categories kept per column; the rest become `other`.
        keep_identifiers: also encode columns that look like identifiers (a distinct value in 90 % of rows or more).
    """
    from component_store.runtime.tables import identifier_columns, read_table, require_columns, write_table
    from serving.inference_pipeline import CHAIN_KEY, apply_step, chain_of

    frame = read_table(table)
    chain = chain_of(table.metadata, frame)
    require_columns(frame, [str(c) for c in (*columns, *exclude)], "encode_categorical")
    targets = list(columns) or [
        c for c in frame.columns if frame[c].dtype == object or str(frame[c].dtype) in ("category", "string", "str")
    ]
    targets = [c for c in targets if c not in set(exclude)]
    identifiers = [] if columns or keep_identifiers else identifier_columns(frame, targets)
    if identifiers:
        print(
            f"encode_categorical: left {', '.join(identifiers)} as is: a different value in nearly every row "
            "makes an identifier, not a category (set keep_identifiers to encode it anyway)"
        )
        targets = [c for c in targets if c not in identifiers]
    categories = {}
    for column in targets:
        values = frame[column].astype("string").fillna("missing")
        kept = values.value_counts().index[:max_categories].tolist()
        values = values.where(values.isin(kept), "other")
        categories[column] = sorted(set(values))
    step = {"kind": "encode", "component": "encode_categorical", "method": method, "categories": categories}
    frame = apply_step(frame, step)
    write_table(frame, encoded)
    encoded.metadata[CHAIN_KEY] = [*chain, step]
    encoded.metadata["encoding"] = {"method": method, "categories": categories}
    encoded.metadata["identifiers_left_as_is"] = identifiers
