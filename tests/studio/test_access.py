"""Sign-in and project membership: locally no login; with `[auth]` configured, nothing before signing in,
and then only the projects a user is a member of."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from studio.access import may_use

APP = Path(__file__).resolve().parents[2] / "studio" / "app.py"
AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-test-cookie-secret",
    "client_id": "tessera",
    "client_secret": "s3cret",
    "server_metadata_url": "https://login.example.com/.well-known/openid-configuration",
}


@pytest.mark.parametrize(
    ("email", "project", "expected"),
    [
        (None, "risk", True),  # no sign-in: the single local user
        ("ana@risk.example.com", "risk", True),  # domain member
        ("ANA@Risk.Example.com", "risk", True),  # emails compare without case
        ("bob@example.com", "risk", False),
        ("bob@example.com", "churn", True),  # listed by address
        ("ana@risk.example.com", "fraud", False),  # unlisted projects are nobody's once members exist
        ("eve@evil-risk.example.com.attacker", "risk", False),
    ],
)
def test_project_membership(email, project, expected):
    members = {"risk": ["@risk.example.com"], "churn": ["bob@example.com"]}
    assert may_use(email, project, members) is expected


def test_everyone_signed_in_sees_every_project_without_a_members_map():
    assert may_use("anyone@example.com", "risk", {})


def test_with_sign_in_configured_the_studio_shows_nothing_before_sign_in(demo_workspace, monkeypatch):
    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    app = AppTest.from_file(str(APP), default_timeout=60)
    app.secrets["auth"] = AUTH
    app.run()
    assert not app.exception, [e.message for e in app.exception]
    assert [t.value for t in app.title] == ["Tessera studio"]
    assert [b.label for b in app.button] == ["Sign in"]
    assert not app.dataframe, "no workspace data before sign-in"


def test_without_sign_in_the_local_studio_opens_at_once(demo_workspace, monkeypatch):
    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    app = AppTest.from_file(str(APP), default_timeout=60).run()
    assert not app.exception and app.title[0].value.startswith("Tessera ·")
    assert "Sign in" not in [b.label for b in app.button]
