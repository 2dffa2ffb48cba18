"""`tessera components new`: a typed, documented component and a test that runs it, for the author to fill in.

components/NAME.py              the component: a table in, a table out, one parameter
components/tests/test_NAME.py   runs it on a small table and checks its output
"""

from __future__ import annotations

from pathlib import Path

from component_store.spec import CATEGORIES, COMPONENT_NAME
from tessera.errors import ComponentError
from tessera.suggest import did_you_mean
from tessera.workspace import write_atomically

COMPONENT_TEMPLATE = '''"""{name}: one line on what it does (the studio shows it)."""

from kfp.dsl import Dataset, Input, Output

from component_store.decorator import component


@component(name="{name}", category="{category}", tags=[], owner="{owner}")
def {name}(
    table: Input[Dataset], result: Output[Dataset], column: str = "payment_amount_30d", factor: float = 1.0
):
    """Multiply one numeric column by a factor (replace with what your script does).

    Args:
        table: the input table.
        result: the table with the column changed.
        column: the numeric column to change (the default is a column of the demo's player table, which vetting's trial run uses).
        factor: what to multiply it by.
    """
    # Only this function travels to the executor: import what it uses here, inside it.
    from component_store.runtime.tables import read_table, require_columns, write_table

    frame = read_table(table)
    require_columns(frame, [column], "{name}")
    frame[column] = frame[column] * factor
    write_table(frame, result)
'''

TEST_TEMPLATE = '''"""{name} on a small table: what it must do, checked on its output."""

import pandas as pd
from kfp.dsl import Dataset

from {name} import {name}


def test_{name}_changes_the_column(tmp_path):
    table = Dataset(name="table", uri=str(tmp_path / "table.parquet"))
    pd.DataFrame({{"amount": [1.0, 2.5], "player": ["a", "b"]}}).to_parquet(table.path, index=False)
    result = Dataset(name="result", uri=str(tmp_path / "result.parquet"))

    {name}(table=table, result=result, column="amount", factor=2.0)

    out = pd.read_parquet(result.path)
    assert out["amount"].tolist() == [2.0, 5.0]
    assert out["player"].tolist() == ["a", "b"], "other columns are kept"
'''


def scaffold(folder: Path, name: str, category: str, owner: str) -> tuple[Path, Path]:
    """Write the component and its test; refuses to overwrite either."""
    if not COMPONENT_NAME.match(name):
        raise ComponentError(f"'{name}' is not a snake_case name (letters, digits, underscores), e.g. clip_outliers")
    if category not in CATEGORIES:
        raise ComponentError(
            f"unknown category '{category}'{did_you_mean(category, CATEGORIES)}; use one of {', '.join(CATEGORIES)}"
        )
    source, test = folder / f"{name}.py", folder / "tests" / f"test_{name}.py"
    for path in (source, test):
        if path.exists():
            raise ComponentError(f"{path} exists already: edit it, or pick another name")
    write_atomically(source, COMPONENT_TEMPLATE.format(name=name, category=category, owner=owner))
    write_atomically(test, TEST_TEMPLATE.format(name=name))
    return source, test
