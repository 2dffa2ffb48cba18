"""Check a pandas `query` expression before it runs: data only, no code."""

from __future__ import annotations

import ast
import re

_ALLOWED = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.FloorDiv,
    ast.Pow,
    ast.BitAnd,
    ast.BitOr,
    ast.Invert,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.List,
    ast.Tuple,
)
_BACKTICKED = re.compile(r"`([^`]+)`")


def check_expression(expression: str) -> set[str]:
    """The column names an expression uses; ValueError if it is not a plain condition.

    Example:
        >>> sorted(check_expression("age > 30 and `play time` < 5"))
        ['age', 'play time']
    """
    quoted: dict[str, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        key = f"__column_{len(quoted)}__"
        quoted[key] = match.group(1)
        return key

    try:
        tree = ast.parse(_BACKTICKED.sub(placeholder, expression), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"filter_rows: the expression is not valid ({exc.msg} at column {exc.offset})") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ValueError(
                f"filter_rows: '{type(node).__name__}' is not allowed in an expression; use columns, values, "
                "comparisons, and/or/not, arithmetic and `in [...]`"
            )
    _check_sizes(tree)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return {quoted.get(n, n) for n in names}


MAX_NUMBER = 1e15
MAX_TEXT = 1_000
MAX_EXPONENT = 64


def _check_sizes(tree: ast.AST) -> None:
    """Bound what an expression can make: numbers, texts, powers (`9**9**9` would run for ever) and text arithmetic."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
                raise ValueError(f"filter_rows: the number {str(value)[:20]}… is too large (at most {MAX_NUMBER:.0e})")
            if isinstance(value, str | bytes) and len(value) > MAX_TEXT:
                raise ValueError(f"filter_rows: a text value is {len(value):,} characters; at most {MAX_TEXT:,}")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            exponent = node.right.operand if isinstance(node.right, ast.UnaryOp) else node.right
            value = exponent.value if isinstance(exponent, ast.Constant) else None
            if not isinstance(value, int | float) or abs(value) > MAX_EXPONENT:
                raise ValueError(
                    f"filter_rows: an exponent must be a number between -{MAX_EXPONENT} and {MAX_EXPONENT}, "
                    "e.g. `x ** 2`"
                )
            if any(isinstance(inner, ast.BinOp) and isinstance(inner.op, ast.Pow) for inner in ast.walk(node.left)):
                raise ValueError("filter_rows: a power of a power is not allowed; write one exponent, e.g. `x ** 4`")
        if isinstance(node, ast.BinOp) and any(
            isinstance(side, ast.Constant) and isinstance(side.value, str | bytes) for side in (node.left, node.right)
        ):
            raise ValueError("filter_rows: arithmetic on text is not allowed; compare text with == or in [...]")
