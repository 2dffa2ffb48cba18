"""`when:` conditions: a small, safe grammar over run parameters and upstream parameter outputs.

    when: "gate.decision == 'accept'"
    when: "params.min_auc >= 0.7 and not params.dry_run == true"
    when: "gate.decision == 'accept' or params.force == true"

Allowed: comparisons (`==`, `!=`, `<`, `<=`, `>`, `>=`) joined by `and` and `or`, `not` before a
comparison, parentheses, literals (text in quotes, numbers, true/false), `params.NAME` (a run
parameter) and `NODE.OUTPUT` (a parameter output of an upstream node). Nothing else parses: no calls,
no attributes beyond one dot, no arithmetic, so a condition never runs code. The local runner
evaluates it; for Kubeflow, comparisons joined by `and` compile to nested `dsl.If` blocks, and a
condition with `or` (which KFP's `dsl.If` cannot take) to a small task that evaluates it with this
module (`evaluate_sent`) and a `dsl.If` on its answer.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

COMPARISONS: dict[type, tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Eq: ("==", operator.eq), ast.NotEq: ("!=", operator.ne), ast.Lt: ("<", operator.lt),
    ast.LtE: ("<=", operator.le), ast.Gt: (">", operator.gt), ast.GtE: (">=", operator.ge),
}  # fmt: skip
LITERAL_NAMES = {"true": True, "false": False, "True": True, "False": False}


class ConditionError(ValueError):
    """A condition outside the grammar; the message names what is not allowed."""


@dataclass(frozen=True)
class Reference:
    """`params.NAME` (source "params") or `NODE.OUTPUT`."""

    source: str
    name: str

    def __str__(self) -> str:
        return f"{self.source}.{self.name}"


def parse_condition(text: str) -> ast.expr:
    """The checked expression tree of a condition."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        raise ConditionError(f"'{text[:80]}' is not a condition ({exc.msg}); e.g. gate.decision == 'accept'") from None
    _check(tree)
    return tree


def references(text: str) -> list[Reference]:
    """Every `params.X` and `node.output` a condition reads, in order."""
    found = []
    for node in ast.walk(parse_condition(text)):
        if isinstance(node, ast.Attribute):
            found.append(Reference(node.value.id, node.attr))  # type: ignore[attr-defined]
    return found


def evaluate(text: str, value_of: Callable[[Reference], Any]) -> bool:
    """The condition's truth, reading each reference through `value_of`."""
    return bool(_value(parse_condition(text), value_of))


def is_conjunction(text: str) -> bool:
    """Whether the condition is comparisons joined by `and` only (what nested `dsl.If` blocks express)."""
    return not any(isinstance(n, ast.BoolOp) and isinstance(n.op, ast.Or) for n in ast.walk(parse_condition(text)))


def evaluate_sent(text: str, values: dict[str, Any], types: dict[str, str]) -> bool:
    """The condition's truth from values as a Kubeflow task receives them (`{"gate.decision": "accept"}`),
    each read back as its declared type (KFP may hand a number over as text)."""

    def typed(reference: Reference) -> Any:
        value, kind = values[str(reference)], types.get(str(reference), "string")
        if kind == "boolean":
            return value if isinstance(value, bool) else str(value).strip().lower() == "true"
        if kind == "integer":
            return int(float(value))
        if kind == "number":
            return float(value)
        return str(value)

    return evaluate(text, typed)


def comparisons(text: str) -> list[tuple[Reference | Any, str, Reference | Any]]:
    """A conjunction (`is_conjunction`) as the comparisons that must all hold, `not` folded in: (left,
    operator, right), each side a `Reference` or a literal. The compiler turns them into `dsl.If` blocks."""
    inverse = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
    found = []
    for node in _conjuncts(parse_condition(text)):
        negated = isinstance(node, ast.UnaryOp)
        compare = node.operand if isinstance(node, ast.UnaryOp) else node
        assert isinstance(compare, ast.Compare)  # parse_condition allows nothing else here
        symbol, _ = COMPARISONS[type(compare.ops[0])]
        found.append((_side(compare.left), inverse[symbol] if negated else symbol, _side(compare.comparators[0])))
    return found


def _conjuncts(node: ast.expr) -> list[ast.expr]:
    if isinstance(node, ast.BoolOp):
        return [part for value in node.values for part in _conjuncts(value)]
    return [node]


def _side(node: ast.expr) -> Any:
    if isinstance(node, ast.Attribute):
        return Reference(node.value.id, node.attr)  # type: ignore[attr-defined]
    if isinstance(node, ast.Name):
        return LITERAL_NAMES[node.id]
    return node.value  # type: ignore[attr-defined]


def _check(node: ast.AST, top: bool = True) -> None:
    if isinstance(node, ast.BoolOp):
        if not top:
            raise ConditionError("'and' and 'or' go between comparisons, not inside one")
        for value in node.values:
            _check(value)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        if not isinstance(node.operand, ast.Compare):
            raise ConditionError("'not' goes before one comparison, e.g. not params.dry_run == true")
        _check(node.operand)
    elif isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in COMPARISONS:
            raise ConditionError("compare two values at a time with ==, !=, <, <=, > or >=")
        _check(node.left, top=False)
        _check(node.comparators[0], top=False)
    elif top:
        raise ConditionError(f"'{ast.unparse(node)[:60]}' is not a comparison: write e.g. gate.decision == 'accept'")
    elif isinstance(node, ast.Attribute):
        if not isinstance(node.value, ast.Name):
            raise ConditionError("a name in a condition is params.NAME or NODE.OUTPUT, with one dot")
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float | bool):
            raise ConditionError(f"{node.value!r} is not a text, number or true/false")
    elif isinstance(node, ast.Name):
        if node.id not in LITERAL_NAMES:
            raise ConditionError(f"'{node.id}' alone means nothing here: write params.{node.id} or NODE.{node.id}")
    else:
        raise ConditionError(
            f"'{ast.unparse(node)[:60]}' is not allowed in a condition: only comparisons, and/or/not and literals"
        )


def _value(node: ast.AST, value_of: Callable[[Reference], Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        join = all if isinstance(node.op, ast.And) else any
        return join(_value(v, value_of) for v in node.values)
    if isinstance(node, ast.UnaryOp):
        return not _value(node.operand, value_of)
    if isinstance(node, ast.Compare):
        _, compare = COMPARISONS[type(node.ops[0])]
        return compare(_value(node.left, value_of), _value(node.comparators[0], value_of))
    if isinstance(node, ast.Attribute):
        return value_of(Reference(node.value.id, node.attr))  # type: ignore[attr-defined]
    if isinstance(node, ast.Name):
        return LITERAL_NAMES[node.id]
    return node.value  # type: ignore[attr-defined]
