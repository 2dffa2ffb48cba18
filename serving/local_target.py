"""The local endpoint target: each endpoint is a managed model-server process on this machine.

`deploy` checks the model references, records the endpoint (token stored hashed), starts
`python -m serving.model_server` detached with its log in `.tessera/endpoints/NAME.log`, and
returns once the server answers ready. Changes (`update`, `promote`, `rollback`) are written to
the registry and the server is told with SIGHUP; the call returns when the server reports the
new versions live, or restores the previous request if the server could not load them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from serving.endpoint_registry import SERVING_STATES, EndpointRecord, EndpointRegistry
from serving.endpoints import Endpoint, EndpointError, EndpointFailed, EndpointRequest
from serving.model_registry import ModelRegistry
from serving.serving_tags import sync_endpoint_tags
from serving.tokens import new_token, token_hash
from serving.traffic import resolve_routes
from tessera.ports import free_port, port_free
from tessera.workspace import Workspace


class LocalProcessTarget:
    """Endpoints as local server processes of one workspace (see `EndpointTarget` for the contract)."""

    kind = "local"

    def __init__(self, workspace: Workspace, start_timeout: float = 120.0, drain_seconds: float = 1.0):
        self.workspace = workspace
        self.registry = EndpointRegistry(workspace.state_dir / "endpoints.db")
        self.models = ModelRegistry.of_workspace(workspace)
        self.start_timeout = start_timeout
        self.drain_seconds = drain_seconds

    def deploy(self, request: EndpointRequest) -> Endpoint:
        if self.registry.exists(request.name):
            raise EndpointError(
                f"endpoint '{request.name}' already exists: use `tessera endpoint update {request.name}` "
                "to change what it serves, or pick another name"
            )
        resolve_routes(self.models, request)  # unknown model / version / alias: refused before anything starts
        _check_features(request, self.workspace.root)
        port = request.port or free_port()
        if not port_free(port):
            raise EndpointError(f"port {port} is already in use on 127.0.0.1: pick another with --port")
        token = new_token()
        log_path = self.workspace.state_dir / "endpoints" / f"{request.name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        record = EndpointRecord(
            name=request.name, target=self.kind, request=request, status="starting", port=port,
            url=f"http://127.0.0.1:{port}", token_hash=token_hash(token), log_path=str(log_path),
        )  # fmt: skip
        self.registry.create(record)
        try:
            self._start(record)
        except EndpointError:
            self.registry.delete(request.name)
            raise
        return self.status(request.name).model_copy(update={"token": token})

    def start(self, name: str) -> Endpoint:
        """Start a stopped endpoint again, same port and token."""
        record = self.registry.get(name)
        if server_alive(record.pid):
            return self.status(name)
        if record.port is None or not _port_frees(record.port, seconds=10):
            raise EndpointError(f"port {record.port} is in use: free it, or delete and deploy '{name}' again")
        self._start(record)
        return self.status(name)

    def update(self, name: str, request: EndpointRequest, event: str = "updated") -> Endpoint:
        record = self.registry.get(name)
        if request.name != name:
            raise EndpointError(f"the request names endpoint '{request.name}', not '{name}'")
        resolve_routes(self.models, request)
        _check_features(request, self.workspace.root)
        revision = self.registry.set_request(name, request, event)
        if not server_alive(record.pid):
            return self.status(name)  # a stopped endpoint serves the new request when started
        os.kill(record.pid or 0, signal.SIGHUP)
        error = self._wait_for_revision(name, revision)
        if error:
            self.registry.set_request(name, record.request, "reverted")
            os.kill(record.pid or 0, signal.SIGHUP)
            raise EndpointFailed(f"endpoint '{name}' kept serving what it served: {error}")
        self._sync_tags(record)  # the server syncs too, but only after it reports; callers read tags at once
        return self.status(name)

    def promote(self, name: str) -> Endpoint:
        request = self.registry.get(name).request
        if request.canary is None:
            raise EndpointError(f"endpoint '{name}' has no canary to promote; add one with --canary MODEL/VERSION")
        promoted = request.model_copy(update={"model": request.canary, "canary": None, "canary_percent": 0})
        return self.update(name, promoted, event="promoted")

    def rollback(self, name: str) -> Endpoint:
        request = self.registry.get(name).request
        if request.canary is not None:
            back = request.model_copy(update={"canary": None, "canary_percent": 0})
        else:
            previous = self.registry.previous_primary(name)
            if previous is None:
                raise EndpointError(f"endpoint '{name}' has served only one version: nothing to roll back to")
            back = request.model_copy(update={"model": previous})
        return self.update(name, back, event="rolled back")

    def follow_alias(self, ref: str) -> list[Endpoint]:
        """Tell running endpoints that serve `ref` (MODEL@ALIAS) to swap now; returns them once swapped."""
        moved = []
        for record in self.registry.all():
            if record.target != self.kind or ref not in (record.request.model, record.request.canary):
                continue
            if not server_alive(record.pid):
                continue
            wanted = [(r.model_name, r.version) for r in resolve_routes(self.models, record.request)]
            os.kill(record.pid or 0, signal.SIGHUP)
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                current = self.registry.get(record.name)
                if [(r.model_name, r.version) for r in current.served] == wanted or current.last_error:
                    break
                time.sleep(0.05)
            self._sync_tags(record)
            moved.append(self.status(record.name))
        return moved

    def rotate_token(self, name: str) -> Endpoint:
        """Issue a new bearer token (returned once); the old one stops working when this returns."""
        record = self.registry.get(name)
        token = new_token()
        self.registry.set_fields(name, token_hash=token_hash(token))
        self.registry.log(name, "token rotated", {})
        if server_alive(record.pid):
            os.kill(record.pid or 0, signal.SIGHUP)
            deadline = time.monotonic() + self.start_timeout
            while not _ready(f"{record.url}/v2/models/{name}", token):
                if time.monotonic() > deadline:
                    raise EndpointFailed(f"endpoint '{name}' did not take the new token; see its log")
                time.sleep(0.05)
        return self.status(name).model_copy(update={"token": token})

    def status(self, name: str) -> Endpoint:
        return self._endpoint(self.registry.get(name))

    def list(self) -> list[Endpoint]:
        return [self._endpoint(record) for record in self.registry.all()]

    def stop(self, name: str) -> Endpoint:
        record = self.registry.get(name)
        if server_alive(record.pid):
            self.registry.set_fields(name, status="stopping")  # a supervisor must not restart what is being stopped
            os.kill(record.pid or 0, signal.SIGTERM)
            _wait_exit(record.pid or 0, self.drain_seconds + 35)
        self.registry.set_fields(name, status="stopped", pid=None)
        self.registry.log(name, "stopped", {})
        self._sync_tags(record)
        return self.status(name)

    def delete(self, name: str) -> None:
        if not self.registry.exists(name):
            return
        self.stop(name)
        record = self.registry.get(name)
        self.registry.delete(name)
        self._sync_tags(record)

    def logs(self, name: str, tail: int = 50) -> str:
        path = Path(self.registry.get(name).log_path)
        lines = path.read_text(errors="replace").splitlines() if path.exists() else []
        return "\n".join(lines[-tail:])

    def _start(self, record: EndpointRecord) -> None:
        command = [
            sys.executable, "-m", "serving.model_server", str(self.workspace.root), record.name,
            "--drain", str(self.drain_seconds),
        ]  # fmt: skip
        with open(record.log_path, "ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                env=os.environ | self.workspace.component_environment(),
            )  # fmt: skip
        self.registry.set_fields(record.name, pid=process.pid, status="starting")
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                self.registry.set_fields(record.name, status="failed", pid=None)
                raise EndpointFailed(
                    f"endpoint '{record.name}' did not start (exit {process.returncode}); its log ends with:\n"
                    + self.logs(record.name, tail=15)
                )
            if _ready(f"{record.url}/v2/health/ready"):
                return
            time.sleep(0.1)
        process.kill()
        raise EndpointFailed(f"endpoint '{record.name}' was not ready after {self.start_timeout:.0f}s; see its log")

    def _wait_for_revision(self, name: str, revision: int) -> str:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            record = self.registry.get(name)
            if record.served_revision >= revision:
                return record.last_error
            if not server_alive(record.pid):
                return "the server process exited; see `tessera endpoint logs " + name + "`"
            time.sleep(0.05)
        return f"the server did not apply the change within {self.start_timeout:.0f}s"

    def _endpoint(self, record: EndpointRecord) -> Endpoint:
        status = record.status
        if status in SERVING_STATES and not server_alive(record.pid):
            status = "crashed"
        return Endpoint(
            name=record.name, target=record.target, status=status, url=record.url, request=record.request,
            routes=record.served, message=record.last_error, pid=record.pid if status != "stopped" else None,
        )  # fmt: skip

    def _sync_tags(self, changed: EndpointRecord) -> None:
        sync_endpoint_tags(
            self.models.client, self.registry.all(), also_models={route.model_name for route in changed.served}
        )


def _check_features(request: EndpointRequest, root: Path) -> None:
    """A lookup whose repo, views or entity key are wrong is refused before a server starts."""
    if request.features is None:
        return
    from serving.feature_lookup import check_lookup
    from serving.online_features import FeatureStoreError

    try:
        check_lookup(request.features, root)
    except FeatureStoreError as exc:
        raise EndpointError(str(exc)) from exc


def _ready(url: str, token: str = "") -> bool:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=1) as answer:  # noqa: S310
            return bool(answer.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def server_alive(pid: int | None) -> bool:
    """True while `pid` is a running endpoint server (not a zombie, not a reused pid); psutil, so macOS too."""
    import psutil

    if not pid:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our own exited child
    except ChildProcessError:
        pass
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and "serving.model_server" in process.cmdline()
    except (psutil.Error, OSError):
        return False


def _port_frees(port: int, seconds: float) -> bool:
    """Wait for `port` to be free: a server just killed lets go of its socket a moment after it is gone."""
    deadline = time.monotonic() + seconds
    while not port_free(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _wait_exit(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while server_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if server_alive(pid):
        os.kill(pid, signal.SIGKILL)
