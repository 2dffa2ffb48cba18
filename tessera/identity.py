"""Who is acting: the name recorded as a component's author and checked against a store's approvers."""

from __future__ import annotations

import getpass
import os
import subprocess


def current_user(given: str | None = None) -> str:
    """Who is acting: `given`, else TESSERA_USER, else git's user.email, else the login name."""
    if given:
        return given
    if os.environ.get("TESSERA_USER"):
        return os.environ["TESSERA_USER"]
    try:
        email = subprocess.run(
            ["git", "config", "user.email"], capture_output=True, text=True, timeout=5, check=False
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        email = ""
    return email or getpass.getuser()
