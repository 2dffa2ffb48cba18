"""Review of team store versions: who is asking, approve, deprecate.

A new version is `review`. One of its store's approvers (`stores: - approvers:` in tessera.yaml)
approves it, or deprecates it naming the version to use instead. Built-in versions are approved.
"""

from __future__ import annotations

from component_store.store import LayeredStore, PublishedVersion, parse_ref
from tessera.errors import ComponentError
from tessera.identity import current_user

__all__ = ["approve", "current_user", "deprecate"]


def approve(store: LayeredStore, ref: str, user: str) -> PublishedVersion:
    """Mark `NAME@VERSION` approved; only its store's approvers may."""
    name, version = _pinned(ref)
    info = _reviewable(store, name, version, user, "approve")
    if info.status != "review":
        raise ComponentError(f"{ref} is {info.status}, not in review: only a version in review can be approved")
    return store.set_review(name, version, status="approved", approved_by=user)


def deprecate(store: LayeredStore, ref: str, use: str, reason: str, user: str) -> PublishedVersion:
    """Mark `NAME@VERSION` deprecated, naming the version to use instead and why."""
    name, version = _pinned(ref)
    _reviewable(store, name, version, user, "deprecate")
    other_name, other_version = _pinned(use)
    store.get(other_name, other_version)  # the replacement must exist (did-you-mean otherwise)
    if (other_name, other_version) == (name, version):
        raise ComponentError("a version cannot replace itself: name another with --use")
    if not reason.strip():
        raise ComponentError("say why with --reason, e.g. --reason 'leaks the label into the features'")
    return store.set_review(name, version, status="deprecated", replacement=use, reason=reason.strip())


def _pinned(ref: str) -> tuple[str, str]:
    name, version = parse_ref(ref)
    if version is None:
        raise ComponentError(f"name the version: {name}@VERSION (see tessera components show {name})")
    return name, version


def _reviewable(store: LayeredStore, name: str, version: str, user: str, verb: str) -> PublishedVersion:
    info = store.info(name, version)
    layer = store.layer_of(name)
    if not layer.team:
        raise ComponentError(
            f"{name}@{version} is a built-in version: built-in versions are approved by Tessera's maintainers"
        )
    if user not in layer.approvers:
        who = ", ".join(layer.approvers) or "nobody yet (add approvers under stores: in tessera.yaml)"
        raise ComponentError(f"{user} may not {verb} versions of the {layer.name} store; its approvers: {who}")
    return info
