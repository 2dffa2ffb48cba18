"""A Kubeflow Pipelines API double at the HTTP seam (urllib3's pool manager under `kfp.Client`).

Everything above it is the real `kfp.Client` and `kfp_server_api`; the double answers the
v2beta1 REST routes Tessera uses, from memory, and checks every request body against the
`kfp_server_api` model it must be (no field the API does not define, nested types too)
and that it carries the bearer token. Runs move PENDING → RUNNING → SUCCEEDED as they are
read, so runner code sees a run progress.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import kfp_server_api

from tests.sdk_models import check_against_model as check_sdk_model

TOKEN = "t0ken-for-tests"


def check_against_model(data: Any, type_name: str, where: str = "body") -> None:
    """Raise AssertionError where `data` has a key that the kfp_server_api model `type_name` does not define."""
    check_sdk_model(data, type_name, where, kfp_server_api.models)


@dataclass
class _Response:
    status: int
    data: bytes
    reason: str = "OK"
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})

    def getheaders(self) -> dict[str, str]:
        return self.headers

    def getheader(self, name: str, default: Any = None) -> Any:
        return self.headers.get(name.lower(), default)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeKubeflow:
    """Stands in for `urllib3.PoolManager`: `client._run_api.api_client.rest_client.pool_manager = fake`."""

    def __init__(
        self, finish_after: int = 2, fail_node: str = "", false_conditions: frozenset[str] = frozenset(),
        fail_iteration: int | None = None,
    ):  # fmt: skip
        self.finish_after = finish_after
        self.fail_node = fail_node
        self.fail_iteration = fail_iteration  # with fail_node in a loop: the iteration that fails (None: all)
        self.false_conditions = false_conditions  # dsl.If groups (condition-1, …) whose condition is false
        self.requests: list[tuple[str, str, dict[str, list[str]], Any]] = []
        self.experiments: dict[str, dict[str, Any]] = {}
        self.runs: dict[str, dict[str, Any]] = {}
        self.reads: dict[str, int] = {}
        self.recurring: dict[str, dict[str, Any]] = {}

    # -- urllib3's interface ---------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        fields: Any = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        **_: Any,
    ) -> Any:
        parsed = urlparse(url)
        query = parse_qs(parsed.query)
        for key, value in fields or []:  # GET query parameters arrive as urllib3 fields
            query.setdefault(key, []).append(str(value))
        path = parsed.path[parsed.path.index("/apis/") :] if "/apis/" in parsed.path else parsed.path
        payload = json.loads(body) if isinstance(body, str | bytes) and body else body
        self.requests.append((method, path, query, payload))
        sent = {k.lower(): v for k, v in (headers or {}).items()}
        if sent.get("authorization") != f"Bearer {TOKEN}":
            return self._error(401, "Unauthorized", "missing or wrong bearer token")
        return self._route(method, path, query, payload)

    # -- the routes ------------------------------------------------------------------

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> _Response:
        base = "/apis/v2beta1"
        if method == "GET" and path == f"{base}/healthz":
            return self._json({"multi_user": False})
        if path == f"{base}/experiments":
            return self._create_experiment(body) if method == "POST" else self._list_experiments(query)
        if method == "POST" and path == f"{base}/runs":
            return self._create_run(body)
        if match := re.fullmatch(rf"{base}/runs/([^/:]+)(:terminate)?", path):
            return self._run(method, match.group(1), bool(match.group(2)))
        if path == f"{base}/recurringruns":
            return self._create_recurring(body) if method == "POST" else self._list_recurring(query)
        if match := re.fullmatch(rf"{base}/recurringruns/([^/:]+)(:enable|:disable)?", path):
            return self._recurring(method, match.group(1), match.group(2))
        return self._error(404, "Not Found", f"no route {method} {path}")

    def _create_experiment(self, body: dict[str, Any]) -> _Response:
        check_against_model(body, "V2beta1Experiment")
        experiment = body | {"experiment_id": str(uuid.uuid4()), "created_at": _now(), "storage_state": "AVAILABLE"}
        self.experiments[experiment["experiment_id"]] = experiment
        return self._json(experiment, "V2beta1Experiment")

    def _list_experiments(self, query: dict[str, list[str]]) -> _Response:
        wanted = json.loads(query["filter"][0])["predicates"][0]["stringValue"] if "filter" in query else None
        namespace = query.get("namespace", [None])[0]
        found = [
            e
            for e in self.experiments.values()
            if (wanted is None or e["display_name"] == wanted)
            and (namespace is None or e.get("namespace") == namespace)
        ]
        return self._json({"experiments": found, "total_size": len(found)}, "V2beta1ListExperimentsResponse")

    def _create_run(self, body: dict[str, Any]) -> _Response:
        check_against_model(body, "V2beta1Run")
        assert body["experiment_id"] in self.experiments, "runs go into an existing experiment"
        run = body | {"run_id": str(uuid.uuid4()), "state": "PENDING", "created_at": _now()}
        self.runs[run["run_id"]] = run
        self.reads[run["run_id"]] = 0
        return self._json(run, "V2beta1Run")

    def _run(self, method: str, run_id: str, terminate: bool) -> _Response:
        if run_id not in self.runs:
            return self._error(404, "Not Found", f"run {run_id} not found")
        run = self.runs[run_id]
        if terminate:
            run["state"] = "CANCELED"
            return self._json({})
        if run["state"] not in ("CANCELED", "FAILED", "SUCCEEDED"):
            self.reads[run_id] += 1
            done = self.reads[run_id] >= self.finish_after
            run["state"] = ("FAILED" if self.fail_node else "SUCCEEDED") if done else "RUNNING"
        run["run_details"] = {"task_details": self._tasks(run)}
        return self._json(run, "V2beta1Run")

    def _tasks(self, run: dict[str, Any]) -> list[dict[str, Any]]:
        """As KFP reports them: a task per node reached, a dsl.If group whose condition is false SKIPPED and
        the tasks inside it never created."""
        spec = run["pipeline_spec"]
        names: list[tuple[str, int]] = []  # (task name, loop iteration)

        def walk(dag_tasks: dict[str, Any], iteration: int = 0) -> None:
            for task in dag_tasks.values():
                name = task["taskInfo"]["name"]
                names.append((name, iteration))
                group = spec["components"].get(task["componentRef"]["name"], {}).get("dag")
                if group and name not in self.false_conditions:
                    for each in range(self._iterations(run, task)):  # a dsl.ParallelFor: its tasks once per item
                        walk(group["tasks"], each)

        walk(spec["root"]["dag"]["tasks"])
        state = {"PENDING": "PENDING", "RUNNING": "RUNNING", "CANCELED": "CANCELED"}.get(run["state"], "SUCCEEDED")
        tasks = [{"display_name": run["display_name"], "state": run["state"], "task_id": "root"}]
        for name, iteration in names:
            failing = name == self.fail_node and self.fail_iteration in (None, iteration)
            task_state = "FAILED" if run["state"] == "FAILED" and failing else state
            if name in self.false_conditions and task_state == "SUCCEEDED":
                task_state = "SKIPPED"
            task = {
                "display_name": name,
                "task_id": f"{name}-{iteration}",
                "state": task_state,
                "pod_name": f"{name}-pod",
            }
            if task_state != "PENDING":
                task["start_time"] = _now()
            if task_state in ("SUCCEEDED", "FAILED"):
                task["end_time"] = _now()
            if task_state == "FAILED":
                task["error"] = {"code": 2, "message": f"{name}: exit code 1"}
            tasks.append(task)
        return tasks

    @staticmethod
    def _iterations(run: dict[str, Any], task: dict[str, Any]) -> int:
        """How many times a group runs: once, or once per item of its `dsl.ParallelFor`."""
        items = task.get("parameterIterator", {}).get("items")
        if items is None:
            return 1
        if "raw" in items:
            return len(json.loads(items["raw"]))
        parameter = items["inputParameter"].removeprefix("pipelinechannel--")
        values = run.get("runtime_config", {}).get("parameters", {})
        return len(values.get(parameter, []))

    def _create_recurring(self, body: dict[str, Any]) -> _Response:
        check_against_model(body, "V2beta1RecurringRun")
        assert body["experiment_id"] in self.experiments, "schedules go into an existing experiment"
        run = body | {"recurring_run_id": str(uuid.uuid4()), "created_at": _now(), "status": "ENABLED"}
        self.recurring[run["recurring_run_id"]] = run
        return self._json(run, "V2beta1RecurringRun")

    def _list_recurring(self, query: dict[str, list[str]]) -> _Response:
        namespace = query.get("namespace", [None])[0]
        experiments = {e["experiment_id"] for e in self.experiments.values() if e.get("namespace") == namespace}
        found = [r for r in self.recurring.values() if namespace is None or r["experiment_id"] in experiments]
        return self._json({"recurringRuns": found, "total_size": len(found)}, "V2beta1ListRecurringRunsResponse")

    def _recurring(self, method: str, run_id: str, action: str | None) -> _Response:
        if run_id not in self.recurring:
            return self._error(404, "Not Found", f"recurring run {run_id} not found")
        if method == "DELETE":
            del self.recurring[run_id]
            return self._json({})
        if action:
            enable = action == ":enable"
            self.recurring[run_id] |= {
                "mode": "ENABLE" if enable else "DISABLE",
                "status": "ENABLED" if enable else "DISABLED",
            }
            return self._json({})
        return self._json(self.recurring[run_id])

    def _json(self, payload: Any, model: str = "") -> _Response:
        if model:  # answers are held to the API's models too
            check_against_model(payload, model, f"answer ({model})")
        return _Response(200, json.dumps(payload).encode())

    def _error(self, status: int, reason: str, message: str) -> _Response:
        return _Response(status, json.dumps({"code": 5, "message": message}).encode(), reason)

    def sent(self, method: str, path_end: str) -> list[Any]:
        """Bodies of the requests sent to a route ending in `path_end`."""
        return [body for m, path, _, body in self.requests if m == method and path.endswith(path_end)]


def fake_client(fake: FakeKubeflow, namespace: str = "risk-team") -> Any:
    """A real `kfp.Client` whose HTTP goes to `fake`."""
    import kfp

    client = kfp.Client(host="http://kubeflow.test/pipeline", namespace=namespace, existing_token=TOKEN)
    client._run_api.api_client.rest_client.pool_manager = fake
    return client
