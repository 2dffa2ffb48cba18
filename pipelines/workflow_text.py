"""A workflow file's text: read as YAML 1.2, and edited in place so the user's own text survives a save.

YAML 1.2 (ruamel.yaml), not PyYAML's 1.1: `country: NO` stays the string "NO", `on: x` stays a key.
A save merges the new value into the file as it was read: comments, key order, quoting and flow
style of everything the edit did not touch stay as the user wrote them; nodes are matched by id,
so moving or editing one node leaves the others' text alone.
"""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarbool import ScalarBoolean


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap the user's long lines
    yaml.indent(mapping=2, sequence=2, offset=0)
    return yaml


MAX_VALUES = 200_000  # a workflow has hundreds; aliases can make a short text mean billions
MAX_DEPTH = 64
MAX_TEXT = 2_000_000


class YamlTooLarge(ValueError):
    """A document nested too deeply or, through aliases, holding too many values to be a workflow."""


def read_yaml(text: str) -> Any:
    """The YAML 1.2 value of `text` as plain Python values (dicts, lists, str, int, float, bool).

    Raises:
        ruamel.yaml.YAMLError: with the line and column of the problem (a key given twice included).
        YamlTooLarge: nested deeper than MAX_DEPTH or more than MAX_VALUES values once aliases are expanded.
    """
    if len(text) > MAX_TEXT:
        raise YamlTooLarge(f"{len(text):,} characters: a workflow file is at most {MAX_TEXT:,}")
    if _flow_depth(text) > MAX_DEPTH:  # refused before the parser recurses a thousand frames deep
        raise YamlTooLarge(f"brackets nested more than {MAX_DEPTH} levels deep")
    try:
        document = _yaml().load(text)
    except RecursionError:
        raise YamlTooLarge(f"nested more than {MAX_DEPTH} levels deep") from None
    return _plain(document, [MAX_VALUES])


def _flow_depth(text: str) -> int:
    """How deep `[` and `{` nest outside quoted text (comments may count: only an upper bound matters)."""
    import re

    bare = re.sub(r"'[^'\n]*'|\"(?:\\.|[^\"\\\n])*\"", "", text)
    depth = deepest = 0
    for character in bare:
        if character in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif character in "]}":
            depth = max(depth - 1, 0)
    return deepest


def merged_text(old_text: str, new_data: dict[str, Any]) -> str:
    """`new_data` written into the document `old_text`, keeping what did not change as it was written."""
    yaml = _yaml()
    try:
        document = yaml.load(old_text) if old_text.strip() else None
    except Exception:  # noqa: BLE001 - an unreadable old file is simply replaced
        document = None
    if not isinstance(document, CommentedMap):
        document = CommentedMap()
    _merge_mapping(document, new_data)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


def _merge_mapping(target: CommentedMap, new: dict[str, Any]) -> None:
    for key in [k for k in target if k not in new]:
        del target[key]
    flow_siblings = any(isinstance(v, CommentedMap) and v.fa.flow_style() for v in target.values())
    for position, (key, value) in enumerate(new.items()):
        if key in target:
            target[key] = _merged(target[key], value)
        else:
            fresh = _fresh(value)
            if flow_siblings and isinstance(fresh, CommentedMap):  # e.g. a new step's place in `layout`
                fresh.fa.set_flow_style()
            target.insert(min(position, len(target)), key, fresh)


def _merged(old: Any, new: Any) -> Any:
    if isinstance(new, dict) and isinstance(old, CommentedMap):
        _merge_mapping(old, new)
        return old
    if isinstance(new, list) and isinstance(old, CommentedSeq):
        if _is_node_list(new) and _is_node_list(old):
            return _merge_nodes(old, new)
        return old if _plain(old, [MAX_VALUES]) == new else _fresh(new)
    return old if _same_scalar(_plain(old, [MAX_VALUES]), new) else _fresh(new)


def _same_scalar(old: Any, new: Any) -> bool:
    """Equal values of one kind; 100 and 100.0 count as the same number (a position written by hand)."""
    numbers = (int, float)
    if isinstance(old, bool) or isinstance(new, bool):
        return type(old) is type(new) and old == new
    if isinstance(old, numbers) and isinstance(new, numbers):
        return old == new
    return type(old) is type(new) and old == new


def _merge_nodes(old: CommentedSeq, new: list[dict[str, Any]]) -> CommentedSeq:
    """Nodes matched by id: each kept node keeps its text (and the comment above it); new ones are added."""
    by_id = {item["id"]: item for item in old}
    comments = {item["id"]: old.ca.items.get(index) for index, item in enumerate(old)}
    merged = CommentedSeq()
    for index, node in enumerate(new):
        previous = by_id.get(node["id"])
        if previous is not None:
            _merge_mapping(previous, node)
            merged.append(previous)
            if comments.get(node["id"]):
                merged.ca.items[index] = comments[node["id"]]
        else:
            merged.append(_fresh(node))
    merged.fa.set_block_style()
    if old.ca.comment:
        merged.ca.comment = old.ca.comment
    return merged


def _is_node_list(items: Any) -> bool:
    return all(isinstance(item, dict) and "id" in item for item in items) and bool(items)


def _plain(value: Any, budget: list[int], depth: int = 0) -> Any:
    """A round-trip value as plain Python (scalars keep their value, not their quoting); `budget` counts
    down the values still allowed (aliases are expanded here, so an alias bomb stops early)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise YamlTooLarge(f"more than {MAX_VALUES:,} values (aliases included): not a workflow")
    if depth > MAX_DEPTH:
        raise YamlTooLarge(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {k: _plain(v, budget, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, budget, depth + 1) for v in value]
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | ScalarBoolean):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return value


def _fresh(value: Any) -> Any:
    """New data in the file's house style: block mappings, short scalar lists in flow style."""
    if isinstance(value, dict):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[key] = _fresh(item)
        return mapping
    if isinstance(value, list):
        seq = CommentedSeq(_fresh(item) for item in value)
        if all(not isinstance(item, (dict, list)) for item in value):
            seq.fa.set_flow_style()
        return seq
    return value
