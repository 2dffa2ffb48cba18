"""The task a `when:` with `or` compiles to: KFP's `dsl.If` takes comparisons joined by `and` only, so
the condition is evaluated by this small component (run in Tessera's runtime image) and the guarded
nodes sit in a `dsl.If` on its answer.

No `from __future__ import annotations` here: kfp reads the function's annotations as types.
"""

from typing import Any


def evaluate_condition(condition: str, values: dict, types: dict) -> bool:  # type: ignore[type-arg]
    """The condition's truth from the values it reads (run parameters and upstream parameter outputs)."""
    from pipelines.conditions import evaluate_sent

    return evaluate_sent(condition, values, types)


def condition_component(image: str) -> Any:
    """`evaluate_condition` as a kfp component in `image` (which has Tessera, and kfp, installed)."""
    from kfp import dsl

    return dsl.component(base_image=image, install_kfp_package=False)(evaluate_condition)
