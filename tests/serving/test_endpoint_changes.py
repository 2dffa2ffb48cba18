"""Moving a live endpoint: hot swap under load with zero failed requests, canary split, promote,
rollback, alias following, a failed move that changes nothing, graceful stop; registry and MLflow
tags in step after every change."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest
from mlflow import MlflowClient

from serving.endpoints import Endpoint, EndpointError, EndpointRequest
from serving.local_target import LocalProcessTarget
from serving.serving_tags import ENDPOINTS_TAG

pytestmark = pytest.mark.slow
ROW = [[14.0, 20.0, 90.0, 600.0, 0.1, 0.1, 0.08, 0.05, 0.18, 0.06] * 3]


@pytest.fixture(scope="module")
def swap_endpoint(local_target: LocalProcessTarget) -> Iterator[Endpoint]:
    endpoint = local_target.deploy(EndpointRequest(name="cancer-swap", model="cancer/1"))
    yield endpoint
    local_target.delete("cancer-swap")


def ask(endpoint: Endpoint, client: httpx.Client) -> httpx.Response:
    return client.post(
        f"{endpoint.url}/v1/models/{endpoint.name}:predict", json={"instances": ROW},
        headers={"Authorization": f"Bearer {endpoint.token}"},
    )  # fmt: skip


def tags() -> dict[str, str]:
    client = MlflowClient()
    return {
        str(v.version): (v.tags or {}).get(ENDPOINTS_TAG, "") for v in client.search_model_versions("name = 'cancer'")
    }


def test_hot_swap_under_a_concurrent_client_loop_fails_no_request(
    local_target: LocalProcessTarget, swap_endpoint: Endpoint
) -> None:
    statuses: Counter[int] = Counter()
    versions: list[str] = []
    stop = threading.Event()

    def client_loop() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                answer = ask(swap_endpoint, client)
                statuses[answer.status_code] += 1
                versions.append(answer.headers.get("x-model-version", "?"))

    threads = [threading.Thread(target=client_loop) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        while len(versions) < 50:  # the loop is under way before the swap starts
            threading.Event().wait(0.01)
        moved = local_target.update("cancer-swap", EndpointRequest(name="cancer-swap", model="cancer/2"))
        with httpx.Client(timeout=10) as client:  # after update returns, every answer is the new version
            after = {ask(swap_endpoint, client).headers["x-model-version"] for _ in range(20)}
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert set(statuses) == {200}, statuses
    assert versions[0] == "1" and "2" in versions and after == {"2"}
    assert [(r.version, r.percent) for r in moved.routes] == [("2", 100)]
    assert "cancer-swap" in tags()["2"] and "cancer-swap" not in tags()["1"]


def test_canary_split_holds_within_five_points_then_promote_and_rollback(
    local_target: LocalProcessTarget, swap_endpoint: Endpoint
) -> None:
    local_target.update(
        "cancer-swap", EndpointRequest(name="cancer-swap", model="cancer/2", canary="cancer/1", canary_percent=10)
    )
    assert "cancer-swap" in tags()["1"] and "cancer-swap" in tags()["2"]
    with httpx.Client(timeout=10) as client:
        seen = Counter(ask(swap_endpoint, client).headers["x-model-version"] for _ in range(1000))
    assert abs(seen["1"] / 10 - 10) <= 5, seen

    rolled = local_target.rollback("cancer-swap")
    assert [(r.version, r.percent) for r in rolled.routes] == [("2", 100)]
    assert "cancer-swap" not in tags()["1"]

    local_target.update(
        "cancer-swap", EndpointRequest(name="cancer-swap", model="cancer/2", canary="cancer/1", canary_percent=50)
    )
    promoted = local_target.promote("cancer-swap")
    assert [(r.version, r.percent) for r in promoted.routes] == [("1", 100)]
    assert "cancer-swap" in tags()["1"] and "cancer-swap" not in tags()["2"]

    back = local_target.rollback("cancer-swap")  # no canary: back to the version served before
    assert [(r.version, r.percent) for r in back.routes] == [("2", 100)]
    events = [entry.event for entry in local_target.registry.history("cancer-swap")]
    assert {"deployed", "updated", "promoted", "rolled back", "serving"} <= set(events)


def test_a_move_to_a_missing_version_is_refused_and_changes_nothing(
    local_target: LocalProcessTarget, swap_endpoint: Endpoint
) -> None:
    before = local_target.status("cancer-swap")
    with pytest.raises(Exception, match="has no version 9; versions: '1', '2'"):
        local_target.update("cancer-swap", EndpointRequest(name="cancer-swap", model="cancer/9"))
    assert local_target.status("cancer-swap").routes == before.routes


def test_an_endpoint_on_an_alias_follows_it_when_it_moves(local_target: LocalProcessTarget) -> None:
    client = MlflowClient()
    client.set_registered_model_alias("cancer", "challenger", "1")
    endpoint = local_target.deploy(EndpointRequest(name="cancer-alias", model="cancer@challenger"))
    try:
        client.set_registered_model_alias("cancer", "challenger", "2")
        moved = local_target.follow_alias("cancer@challenger")
        assert [(e.name, e.routes[0].version) for e in moved] == [("cancer-alias", "2")]
        with httpx.Client(timeout=10) as http:
            assert ask(endpoint, http).headers["x-model-version"] == "2"
    finally:
        local_target.delete("cancer-alias")
    assert "cancer-alias" not in tags()["2"]


def test_graceful_stop_says_not_ready_then_exits_and_clears_tags(local_target: LocalProcessTarget) -> None:
    endpoint = local_target.deploy(EndpointRequest(name="cancer-stop", model="cancer/1"))
    assert "cancer-stop" in tags()["1"]
    stopped = local_target.stop("cancer-stop")
    assert stopped.status == "stopped" and stopped.pid is None
    assert "cancer-stop" not in tags()["1"]
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{endpoint.url}/v2/health/ready")
    restarted = local_target.start("cancer-stop")
    assert restarted.status == "serving"
    with httpx.Client(timeout=10) as http:
        assert ask(endpoint, http).status_code == 200  # same port, same token
    local_target.delete("cancer-stop")
    local_target.delete("cancer-stop")  # deleting twice is a no-op
    with pytest.raises(EndpointError, match="no endpoint named 'cancer-stop'"):
        local_target.status("cancer-stop")
