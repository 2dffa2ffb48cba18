"""Faults and hostile input from docs/reliability.md that no other test tries: 1,000 bad workflow files,
the runner killed with -9 while four MLflow nodes write at once, and two workflows × four processes
writing one MLflow store at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
from pathlib import Path

import pytest

from pipelines.local_runner import LocalRunner
from pipelines.runner import RunOptions
from pipelines.workflow_io import load_workflow, parse_workflow
from tessera.errors import WorkflowInvalid
from tessera.workspace import init_workspace, load_workspace
from tests.pipelines.test_parallel_tracking import FAMILIES, WORKFLOW
from tests.tessera.test_stores import mlflow_schema_ok

SECRET = "TOKEN-7f3a9c"  # planted in bad files: a message may quote a short fragment, never this much


def bad_workflows(good: str, count: int, seed: int = 5) -> list[str]:
    """`count` broken variants of a good workflow: cut short, misspelled, mistyped, cyclic, hostile."""
    rng = random.Random(seed)
    lines = good.splitlines()
    huge = SECRET * 2000

    def mutate() -> str:
        kind = rng.randrange(14)
        if kind == 0:
            return good[: rng.randrange(1, len(good) - 1)] + "\n  : ["  # cut short, then garbage
        if kind == 1:
            return good.replace("@1.0.0", f"@{rng.randrange(2, 99)}.0.0", 1)  # a version that does not exist
        if kind == 2:
            return good.replace("train_test_split", "train_tset_split", 1)  # a misspelled component
        if kind == 3:
            return good.replace("label: target", rng.choice(["label: [1, 2]", "label: {a: 1}", "label: 1e999"]), 1)
        if kind == 4:
            return good + rng.choice(["owner: me\n", f"{huge}: 1\n", "nodes: []\n"])  # unknown / duplicate keys
        if kind == 5:
            return good.replace("inputs: {table: data.table}", "inputs: {table: train_logistic.model}", 1)  # a cycle
        if kind == 6:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400))).decode("latin-1")
        if kind == 7:  # an alias bomb: nine levels of ten references each
            bomb = ["a0: &a0 [" + ",".join([f'"{SECRET}"'] * 10) + "]"]
            bomb += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
            return "\n".join(bomb) + "\nname: bomb\nnodes: *a8\n"
        if kind == 8:
            return good.replace("\n  component: train_test_split", "\n\tcomponent: train_test_split", 1)  # a tab indent
        if kind == 9:
            return good.replace("id: data", f"id: {rng.choice(['Data!', 'x' * 5000, '1st', SECRET.lower() * 300])}", 1)
        if kind == 10:
            return "[" * 20000 + "]" * 20000  # nesting deeper than any parser's recursion
        if kind == 11:
            return rng.choice(["", "   \n", "42", "- a\n- b\n", "null", "~"])
        if kind == 12:
            return good.replace("params: {label: target}", "params: {label: target, no_such_param: 1}", 1)
        index = rng.randrange(1, len(lines))
        return "\n".join(lines[:index] + [lines[index].strip() + " " + huge[: rng.randrange(1, 9000)]] + lines[index:])

    return [mutate() for _ in range(count)]


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.slow
def test_a_thousand_bad_workflow_files_get_one_short_message_each_and_nothing_is_written(tmp_path: Path, store) -> None:
    workspace = init_workspace(tmp_path / "ws")
    folder = workspace.workflows_dir("risk")
    folder.mkdir(parents=True)
    for index, text in enumerate(bad_workflows(WORKFLOW, 1000)):
        (folder / f"bad_{index:04d}.yaml").write_text(text, encoding="latin-1" if "\x00" in text else "utf-8")
    before = tree_digest(workspace.root)
    messages = {}
    started = time.monotonic()
    for path in sorted(folder.glob("*.yaml")):
        with pytest.raises(WorkflowInvalid) as refused:
            load_workflow(path, store)
        message = str(refused.value)
        assert refused.value.problems, path.name
        assert len(message) < 4000 and SECRET * 15 not in message, (path.name, message[:300])  # a fragment at most
        messages[path.name] = message
    assert len(messages) == 1000 and time.monotonic() - started < 240
    assert tree_digest(workspace.root) == before, "validating wrote nothing"
    assert parse_workflow(WORKFLOW).name == "four_trainers", "the good file they came from is valid"


def _four_trainers_running(runner: LocalRunner, run_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        nodes = runner.status(run_id).nodes
        if sum(n.status == "running" and n.node_id.startswith("train_") for n in nodes) >= 2:
            return
        time.sleep(0.05)
    pytest.fail(f"the trainers did not start: {[(n.node_id, n.status) for n in runner.status(run_id).nodes]}")


@pytest.mark.slow
def test_the_runner_killed_during_four_mlflow_writers_leaves_the_store_intact_and_resume_completes(
    tmp_path: Path, store
) -> None:
    from mlflow import MlflowClient

    workspace = init_workspace(tmp_path / "fresh")
    runner = LocalRunner(workspace, store)
    submitted = runner.submit(parse_workflow(WORKFLOW), {}, RunOptions(max_parallel=4))
    _four_trainers_running(runner, submitted.id)
    client = MlflowClient(workspace.tracking_uri())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill once trainers are inside MLflow (runs started, metrics going in)
        experiment = client.get_experiment_by_name("risk/four_trainers")
        if experiment and client.search_runs([experiment.experiment_id], "attributes.status = 'RUNNING'"):
            break
        time.sleep(0.05)
    else:
        pytest.fail("no trainer started an MLflow run")
    os.kill(runner.status(submitted.id).driver_pid or 0, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while runner.status(submitted.id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert runner.status(submitted.id).status == "failed"
    assert mlflow_schema_ok(workspace.tracking_uri()), "the store survived"

    resumed = runner.resume(submitted.id)
    assert resumed.status == "succeeded", [(n.node_id, n.status, n.message) for n in resumed.nodes]
    experiment = client.get_experiment_by_name("risk/four_trainers")
    runs = client.search_runs([experiment.experiment_id])
    finished = sorted(r.data.tags["tessera.node"] for r in runs if r.info.status == "FINISHED")
    assert finished == sorted(f"train_{f}" for f in FAMILIES)
    assert not [r for r in runs if r.info.status == "RUNNING"], "runs cut off by the kill are closed as KILLED"


def two_workflows_at_once(root: Path, store) -> None:
    from mlflow import MlflowClient

    workspace = load_workspace(root)
    runner = LocalRunner(workspace, store)
    specs = [parse_workflow(WORKFLOW.replace("name: four_trainers", f"name: {name}")) for name in ("first", "second")]
    submitted = [runner.submit(spec, {}, RunOptions(max_parallel=4)) for spec in specs]
    done = [runner.wait(record.id, 300) for record in submitted]
    assert [r.status for r in done] == ["succeeded", "succeeded"], [
        (n.node_id, n.status, n.message) for r in done for n in r.nodes if n.status != "succeeded"
    ]
    assert mlflow_schema_ok(workspace.tracking_uri())
    client = MlflowClient(workspace.tracking_uri())
    for name in ("first", "second"):
        runs = client.search_runs([client.get_experiment_by_name(f"risk/{name}").experiment_id])
        assert sorted(r.data.tags["tessera.node"] for r in runs) == sorted(f"train_{f}" for f in FAMILIES)
        assert all(r.info.status == "FINISHED" and r.data.metrics for r in runs), "no run lost or half-written"


@pytest.mark.slow
def test_two_workflows_of_four_mlflow_writers_at_once_lose_no_run_on_sqlite(tmp_path: Path, store) -> None:
    two_workflows_at_once(init_workspace(tmp_path / "fresh").root, store)


@pytest.mark.slow
def test_two_workflows_of_four_mlflow_writers_at_once_lose_no_run_on_postgresql(
    tmp_path: Path, store, fresh_postgres_url: str
) -> None:
    root = tmp_path / "fresh"
    init_workspace(root)
    (root / "tessera.yaml").write_text(f"name: fresh\ntracking_uri: {fresh_postgres_url}\n")
    two_workflows_at_once(root, store)
