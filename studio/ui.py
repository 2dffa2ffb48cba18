"""What every studio page shares: the workspace and its services, and turning errors into `st.error`.

Pages hold UI only. The state that matters (workflows, runs, models, endpoints) lives in the
workspace, so a browser reconnect or a second tab sees the same thing; `st.session_state`
keeps only what the user is looking at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import streamlit as st
from pydantic import ValidationError

from tessera.errors import TesseraError

log = logging.getLogger("tessera.studio")

STATUS_COLOURS = {
    "succeeded": "#2e7d32", "cached": "#558b2f", "running": "#f9a825", "queued": "#9e9e9e",
    "pending": "#9e9e9e", "failed": "#c62828", "skipped": "#bdbdbd", "not_run": "#90a4ae", "cancelled": "#6d4c41",
}  # fmt: skip


@st.cache_resource(show_spinner=False)
def _workspace_at(home: str) -> Any:
    from tessera.workspace import find_workspace, load_workspace

    return load_workspace(Path(home)) if home else find_workspace()


def workspace() -> Any:
    """The studio's workspace (`TESSERA_HOME`, set by `tessera up`, else the current folder's)."""
    import os

    ws = _workspace_at(os.environ.get("TESSERA_HOME", ""))
    ws.state_dir.mkdir(exist_ok=True)
    return ws


@st.cache_resource(show_spinner=False)
def _store(root: str) -> Any:
    from component_store.store import workspace_store

    return workspace_store(workspace())


def store() -> Any:
    layered = _store(str(workspace().root))
    layered.refresh_if_changed()  # a version published or approved from the CLI shows at once
    return layered


def runner() -> Any:
    """The local runner: run records, previews on a sample."""
    from pipelines.local_runner import LocalRunner

    return LocalRunner(workspace(), store())


@st.cache_resource(show_spinner=False)
def warm_previews() -> bool:
    """Once per studio process: start the fork server previews run their steps from, so the first preview
    does not wait for it to import pandas, pyarrow and scikit-learn (it then stays up with the studio)."""
    from pipelines.executor import warm_up

    warm_up()
    return True


@st.cache_resource(show_spinner=False)
def _kubeflow_runner(root: str) -> Any:
    # One kfp.Client per workspace, not one per rerun: the designer's status fragment reruns every second.
    from pipelines.kubeflow_runner import KubeflowRunner

    return KubeflowRunner(workspace(), store())


def runner_for(backend: str) -> Any:
    """The runner of a backend: `local`, or `kubeflow` (one client per workspace)."""
    return _kubeflow_runner(str(workspace().root)) if backend == "kubeflow" else runner()


def kubeflow_configured() -> bool:
    """Whether the workspace has a Kubeflow endpoint: the designer then offers Run on Kubeflow."""
    from pipelines.backends import default_backend

    return default_backend(workspace()) == "kubeflow"


def runner_of(run_id: str) -> Any:
    """The runner of the backend that ran `run_id`."""
    return runner_for(runner().runs.get(run_id).backend)


def models() -> Any:
    """The workspace's registered models (the SDK's `Models`: the CLI and notebooks use the same)."""
    from tessera.sdk.models import Models

    return Models(workspace())


def endpoints() -> Any:
    from serving.targets import local_target

    return local_target(workspace())


@contextmanager
def user_errors(doing: str) -> Iterator[None]:
    """Show a user error (bad value, invalid workflow, endpoint down) as `st.error`, never a traceback."""
    try:
        yield
    except TesseraError as exc:
        st.error(f"Could not {doing}: {exc}")
    except ValidationError as exc:
        fields = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'value'}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors()
        )
        st.error(f"Could not {doing}: {fields}")
    except (ValueError, OSError) as exc:
        st.error(f"Could not {doing}: {exc}")


def made_on_click(make: Callable[[], str], doing: str) -> Callable[[], str]:
    """A download's text made when the button is clicked, not on every rerun (`st.download_button` takes
    a callable). The click runs it on a thread that cannot draw on the page, so an error comes as the
    file's only line, naming what failed: `# Could not compile for Kubeflow: ...`."""

    def made() -> str:
        try:
            return make()
        except Exception as exc:  # whatever it is, the user gets a file that says so, not a silent failure
            log.exception("could not %s", doing)
            return f"# Could not {doing}: {type(exc).__name__}: {str(exc)[:500]}\n"

    return made


BADGES = {"succeeded": "green", "cached": "green", "running": "orange", "failed": "red", "cancelled": "violet"}


def status_badge(status: str) -> str:
    """Markdown for a coloured status word."""
    return f":{BADGES.get(status, 'gray')}[{status}]"


def ago(timestamp: float | None) -> str:
    import time

    if not timestamp:
        return "-"
    seconds = time.time() - timestamp
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def login_configured() -> bool:
    """Whether Streamlit's OIDC sign-in is set up (`[auth]` in .streamlit/secrets.toml)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all: the local, single-user studio
        return False


def require_sign_in() -> None:
    """With sign-in configured, stop every page until the user has signed in; show who is signed in."""
    if not login_configured():
        return
    if not st.user.get("is_logged_in"):
        st.title("Tessera studio")
        st.write("Sign in to see your team's workflows, runs, models and endpoints.")
        st.button("Sign in", type="primary", on_click=st.login)
        st.stop()
    st.sidebar.caption(f"Signed in as {st.user.get('email') or st.user.get('name')}")
    st.sidebar.button("Sign out", on_click=st.logout)


def signed_in_email() -> str | None:
    """The signed-in user's email; None when the studio has no sign-in (single user)."""
    if not login_configured() or not st.user.get("is_logged_in"):
        return None
    return str(st.user.get("email") or st.user.get("name") or "")


def may_use(project: str) -> bool:
    """Whether the current user may see and act in `project` (see `studio.access`)."""
    from studio.access import may_use as allowed

    return allowed(signed_in_email(), project, workspace().config.members)
