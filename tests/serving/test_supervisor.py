"""Endpoints that come back: a killed endpoint is restarted and serves again; one that keeps failing is
marked a crash loop with its log's last lines, and left alone."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from serving.endpoints import EndpointFailed, EndpointRequest
from serving.local_target import LocalProcessTarget, server_alive
from serving.supervisor import CRASH_LOOP, EndpointSupervisor
from tests.serving.fixtures import MODEL

pytestmark = pytest.mark.slow


@pytest.fixture
def supervised(local_target: LocalProcessTarget):
    endpoint = local_target.deploy(EndpointRequest(name="supervised-api", model=f"{MODEL}@champion"))
    yield endpoint
    local_target.delete("supervised-api")


def kill_9(target: LocalProcessTarget, name: str) -> None:
    pid = target.registry.get(name).pid
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while server_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_killed_endpoint_is_restarted_and_serves_again(local_target: LocalProcessTarget, supervised) -> None:
    kill_9(local_target, "supervised-api")
    assert local_target.status("supervised-api").status == "crashed"
    supervisor = EndpointSupervisor(local_target)
    assert supervisor.tick() == ["supervised-api: restarted (attempt 1)"]
    assert local_target.status("supervised-api").status == "serving"
    answer = httpx.get(f"{supervised.url}/v2/health/ready", timeout=5)
    assert answer.status_code == 200, "same port, same token: callers need not change"
    assert supervisor.tick() == [], "nothing to do while it serves"
    events = [e.event for e in local_target.registry.history("supervised-api")]
    assert events[-1] == "restarted"


def test_an_endpoint_that_keeps_failing_is_marked_a_crash_loop(
    local_target: LocalProcessTarget, supervised, monkeypatch: pytest.MonkeyPatch, webhook
) -> None:
    from dataclasses import replace

    from tessera.workspace import AlertConfig

    hook_url, hooks = webhook
    monkeypatch.setenv("ONCALL_WEBHOOK", hook_url)
    alerting = (AlertConfig(webhook_env="ONCALL_WEBHOOK", events=("endpoint_crashed",)),)
    workspace = local_target.workspace
    monkeypatch.setattr(
        local_target, "workspace", replace(workspace, config=workspace.config.model_copy(update={"alerts": alerting}))
    )
    kill_9(local_target, "supervised-api")

    def broken(name: str):
        raise EndpointFailed(f"endpoint '{name}' did not start (exit 1)")

    monkeypatch.setattr(local_target, "start", broken)
    now = [0.0]
    supervisor = EndpointSupervisor(local_target, max_restarts=3, clock=lambda: now[0])
    tried = []
    for _ in range(12):  # a minute of rounds: the backoff lets through 1, 2, 4 … seconds apart
        tried += supervisor.tick()
        now[0] += 5.0
    assert [line for line in tried if "failed" in line] == [
        f"supervised-api: restart {n} failed: endpoint 'supervised-api' did not start (exit 1)" for n in (1, 2, 3)
    ]
    assert tried[-1] == "supervised-api: 3 restarts in 600s, marked crash loop"
    shown = local_target.status("supervised-api")
    assert shown.status == CRASH_LOOP and shown.message, "the log's last lines say why"
    assert supervisor.tick() == [], "a crash loop is left alone"
    assert [h["text"] for h in hooks] == [
        "*endpoint supervised-api crashed; restarting it*",
        f"*endpoint supervised-api is in a crash loop*\n{shown.message[-800:]}",
    ], "one alert when it crashes, one when the supervisor gives up; none for each retry"


def test_an_endpoint_being_stopped_is_not_restarted(local_target: LocalProcessTarget, supervised, monkeypatch) -> None:
    """The race a supervisor could lose: it looks while `stop` waits for the server to exit."""
    import serving.local_target as local

    supervisor = EndpointSupervisor(local_target)
    seen = []
    real_wait = local._wait_exit

    def wait_then_look(pid: int, timeout: float) -> None:
        real_wait(pid, timeout)
        seen.append(supervisor.tick())  # the server is gone, its record not yet marked stopped

    monkeypatch.setattr(local, "_wait_exit", wait_then_look)
    local_target.stop("supervised-api")
    assert seen == [[]] and local_target.status("supervised-api").status == "stopped"
