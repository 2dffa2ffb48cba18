"""Who may see and act in which project, when the studio signs people in (OIDC, `st.login`).

Locally the studio has no login and everyone is the one user. On a cluster, with `[auth]` in
Streamlit's secrets, everyone signs in first; `members` in `tessera.yaml` then says who
belongs to each project (emails, or `@example.com` for a whole domain):

    members:
      risk: ["@risk.example.com", "ana@example.com"]

A project that `members` does not list is nobody's once the map exists (deny by default);
with no map every signed-in user sees every project.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def may_use(email: str | None, project: str, members: Mapping[str, Sequence[str]]) -> bool:
    """Whether the signed-in `email` (None: no login, the single local user) may use `project`.

    Example:
        >>> may_use("ana@risk.example.com", "risk", {"risk": ["@risk.example.com"]})
        True
        >>> may_use("bob@example.com", "risk", {"risk": ["@risk.example.com"]})
        False
    """
    if email is None or not members:
        return True
    address = email.strip().lower()
    for entry in members.get(project, ()):
        wanted = entry.strip().lower()
        if address == wanted or (wanted.startswith("@") and address.endswith(wanted)):
            return True
    return False
