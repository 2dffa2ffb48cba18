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
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return {quoted.get(n, n) for n in names}
