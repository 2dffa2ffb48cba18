"""Did-you-mean suggestions for names a user mistyped."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, candidates: Iterable[str], *, template: str = "'{}'") -> str:
    """Return ` (did you mean 'x'?)` for the closest candidate, or '' when none is close.

    Example:
        >>> did_you_mean("tets", ["train", "test"])
        " (did you mean 'test'?)"
    """
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {template.format(matches[0])}?)" if matches else ""


def one_of(candidates: Iterable[str]) -> str:
    """`'a', 'b', 'c'` for messages listing what is allowed; `none` when empty."""
    names = sorted(candidates)
    return ", ".join(f"'{n}'" for n in names) if names else "none"
