"""What changed between two versions of a component, and the version number that says so.

- major: a parameter, input or output removed or retyped, a parameter made required, or a
  required parameter or an input added (a workflow that ran before would break);
- minor: an optional parameter or an output added, or a default, choice or range changed;
- patch: only the body or the documentation changed (the frozen YAML's digest differs).

Example:
    >>> next_version("1.4.2", "minor")
    '1.5.0'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from component_store.spec import ComponentSpec

Bump = Literal["major", "minor", "patch", "none"]
ORDER: tuple[Bump, ...] = ("none", "patch", "minor", "major")


@dataclass(frozen=True)
class VersionChange:
    bump: Bump
    reasons: tuple[str, ...]

    def describe(self) -> str:
        return "; ".join(self.reasons) if self.reasons else "nothing changed"


def classify_change(old: ComponentSpec, new: ComponentSpec) -> VersionChange:
    """The bump from `old` to `new` and every reason for it (specs carry their frozen YAML's digest)."""
    found: list[tuple[Bump, str]] = []
    old_params = {p.name: p for p in old.params}
    new_params = {p.name: p for p in new.params}
    for name, param in old_params.items():
        if name not in new_params:
            found.append(("major", f"parameter '{name}' removed"))
        elif new_params[name].type != param.type:
            found.append(("major", f"parameter '{name}' retyped {param.type} → {new_params[name].type}"))
        elif new_params[name].required and not param.required:
            found.append(("major", f"parameter '{name}' is now required"))
        elif _limits(new_params[name]) != _limits(param):
            found.append(("minor", f"parameter '{name}' has another default, choices or range"))
    for name, param in new_params.items():
        if name not in old_params:
            found.append(
                ("major", f"required parameter '{name}' added")
                if param.required
                else ("minor", f"optional parameter '{name}' added")
            )
    for direction, before, after in (("input", old.inputs, new.inputs), ("output", old.outputs, new.outputs)):
        old_types = {a.name: a.type for a in before}
        new_types = {a.name: a.type for a in after}
        for name, kind in old_types.items():
            if name not in new_types:
                found.append(("major", f"{direction} '{name}' removed"))
            elif new_types[name] != kind:
                found.append(("major", f"{direction} '{name}' retyped {kind} → {new_types[name]}"))
        for name in new_types.keys() - old_types.keys():
            found.append(
                ("major", f"input '{name}' added") if direction == "input" else ("minor", f"output '{name}' added")
            )
    if not found and old.digest != new.digest:
        found.append(("patch", "the body or the documentation changed"))
    if not found and _metadata(old) != _metadata(new):
        found.append(("patch", "its summary, tags, owner or packages changed"))
    bump: Bump = max((b for b, _ in found), key=ORDER.index, default="none")
    return VersionChange(bump, tuple(reason for b, reason in found if b == bump) or ())


def next_version(latest: str | None, bump: Bump) -> str:
    """The version after `latest` for a change of kind `bump` (1.0.0 for a first publish)."""
    if latest is None:
        return "1.0.0"
    major, minor, patch = (int(part) for part in latest.split("."))
    if bump == "major":
        return f"{major + 1}.0.0"
    if bump == "minor":
        return f"{major}.{minor + 1}.0"
    if bump == "patch":
        return f"{major}.{minor}.{patch + 1}"
    return latest


def _limits(param: object) -> tuple[object, ...]:
    return tuple(getattr(param, field) for field in ("default", "choices", "minimum", "maximum"))


def _metadata(spec: ComponentSpec) -> tuple[object, ...]:
    return (spec.summary, spec.description, spec.tags, spec.owner, spec.packages, spec.category)
