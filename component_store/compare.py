"""Two versions of a component side by side: parameters, inputs and outputs, and the source diff."""

from __future__ import annotations

import difflib
from typing import Any

import yaml

from component_store.store import ComponentStore


def source_text(component_yaml: str) -> str:
    """What a version runs: a Python component's module source, or a container's image, command and args."""
    document = yaml.load(component_yaml, Loader=yaml.CSafeLoader)
    container = next(iter(document["deploymentSpec"]["executors"].values()))["container"]
    if "--function_to_execute" in (container.get("args") or []):
        return str(container["command"][-1])
    lines = [f"image: {container.get('image', '')}", "command:", *(f"  {c}" for c in container.get("command") or [])]
    return "\n".join([*lines, "args:", *(f"  {a}" for a in container.get("args") or [])])


def side_by_side(store: ComponentStore, name: str, old: str, new: str) -> list[dict[str, Any]]:
    """One row per parameter, input and output of either version: what each version says of it."""
    before, after = store.get(name, old), store.get(name, new)

    def described(spec: Any) -> dict[str, str]:
        rows = {f"param {p.name}": f"{p.type}" + ("" if p.required else f" = {p.default!r}") for p in spec.params}
        rows |= {f"input {a.name}": a.type for a in spec.inputs}
        return rows | {f"output {a.name}": a.type for a in spec.outputs}

    left, right = described(before), described(after)
    return [
        {"item": key, old: left.get(key, "—"), new: right.get(key, "—"), "changed": left.get(key) != right.get(key)}
        for key in [*left, *(k for k in right if k not in left)]
    ]


def source_diff(store: ComponentStore, name: str, old: str, new: str) -> str:
    """A unified diff of what the two versions run."""
    before = source_text(store.component_yaml(name, old)).splitlines()
    after = source_text(store.component_yaml(name, new)).splitlines()
    return "\n".join(difflib.unified_diff(before, after, f"{name}@{old}", f"{name}@{new}", lineterm=""))
