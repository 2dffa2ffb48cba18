"""The local runner on real components: caching, failure, kill -9, resume, cancel, concurrency."""

from __future__ import annotations

import json
import os
import signal
import time

import pandas as pd
import pytest

from pipelines.preview import preview_table
from pipelines.runner import RunOptions
from tessera.errors import WorkflowInvalid
from tests.pipelines.conftest import workflow


def states(record) -> dict[str, str]:
    return {n.node_id: n.status for n in record.nodes}


def test_demo_runs_then_is_all_cache_hits_then_reruns_only_what_changed(runner, features_spec):
    first = runner.run(features_spec)
    assert first.status == "succeeded", [(n.node_id, n.message) for n in first.nodes]
    assert set(states(first).values()) == {"succeeded"}
    train = pd.read_parquet(first.node("split").outputs["train"]["uri"])
    assert len(train) == 4000 and "is_cheater" in train.columns
    assert first.node("split").outputs["train"]["metadata"]["label"] == "is_cheater"

    second = runner.run(features_spec)
    assert set(states(second).values()) == {"cached"}

    third = runner.run(features_spec, {"test_size": 0.3})
    assert states(third) == {
        "players": "cached", "profile": "cached", "validate": "cached",
        "fill": "cached", "encode": "cached", "split": "succeeded",
    }  # fmt: skip
    assert len(pd.read_parquet(third.node("split").outputs["train"]["uri"])) == 3500

    changed = features_spec.with_node(features_spec.node("fill").model_copy(update={"params": {"strategy": "mean"}}))
    fourth = runner.run(changed)
    rerun = {n for n, s in states(fourth).items() if s == "succeeded"}
    assert rerun == {"fill"} | changed.downstream("fill") == {"fill", "encode", "split"}


def test_no_cache_and_per_node_cache_off(runner, features_spec):
    runner.run(features_spec)
    assert set(states(runner.run(features_spec, options=RunOptions(no_cache=True))).values()) == {"succeeded"}
    uncached = features_spec.with_node(features_spec.node("profile").model_copy(update={"cache": False}))
    record = runner.run(uncached)
    assert states(record)["profile"] == "succeeded"
    assert {s for n, s in states(record).items() if n != "profile"} == {"cached"}


def test_quick_mode_samples_rows_and_keeps_its_cache_apart(runner, features_spec):
    quick = runner.run(features_spec, options=RunOptions(sample=200))
    assert quick.status == "succeeded"
    rows = preview_table(quick.node("players").outputs["table"]["uri"]).rows
    assert rows == 200
    full = runner.run(features_spec)
    assert set(states(full).values()) == {"succeeded"}, "a full run never reuses quick-mode outputs"


def test_bad_run_params_are_refused_before_anything_runs(runner, features_spec):
    with pytest.raises(
        WorkflowInvalid, match="test_size: default of run parameter 'test_size' 1.5 is above the maximum 0.95"
    ):
        runner.run(features_spec, {"test_size": 1.5})
    assert runner.runs.recent() == []


FLAKY = """
name: flaky_chain
params:
  marker: {type: string}
nodes:
- {id: players, component: sample_dataset@1.0.0, params: {rows: 300}}
- {id: profile, component: profile_table@1.0.0, inputs: {table: players.table}}
- {id: gate, component: flaky@1.0.0, params: {marker: "${params.marker}"}, inputs: {table: players.table}}
- {id: pick, component: select_columns@1.0.0, params: {columns: [is_cheater]}, inputs: {table: gate.passed}}
"""


def test_failing_node_fails_run_skips_downstream_and_resume_finishes(runner, tmp_path):
    marker = tmp_path / "marker"
    record = runner.run(workflow(FLAKY), {"marker": str(marker)})
    assert record.status == "failed"
    assert states(record) == {"players": "succeeded", "profile": "succeeded", "gate": "failed", "pick": "skipped"}
    gate = record.node("gate")
    assert gate.exit_code == 1 and "RuntimeError: flaky: marker" in gate.message
    assert "marker" in runner.logs(record.id, "gate") and "Traceback" in runner.logs(record.id, "gate")
    players_started = record.node("players").started_at

    marker.write_text("go")
    resumed = runner.resume(record.id)
    assert resumed.id == record.id and resumed.status == "succeeded"
    assert states(resumed) == {"players": "succeeded", "profile": "succeeded", "gate": "succeeded", "pick": "succeeded"}
    assert resumed.node("players").started_at == players_started, "succeeded nodes are not run again"
    assert resumed.node("gate").attempts == 2


SLOW = """
name: slow_chain
params:
  marker: {type: string, default: ""}
nodes:
- {id: players, component: sample_dataset@1.0.0, params: {rows: 300}}
- {id: wait, component: sleepy@1.0.0, params: {seconds: 60, unless_exists: "${params.marker}"}, inputs: {table: players.table}}
- {id: after, component: select_columns@1.0.0, params: {columns: [is_cheater]}, inputs: {table: wait.copied}}
- {id: side, component: profile_table@1.0.0, inputs: {table: players.table}}
"""


def wait_for_node(runner, run_id, node_id, status="running", timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = runner.status(run_id)
        if record.node(node_id).status == status:
            return record
        time.sleep(0.05)
    raise AssertionError(f"node {node_id} never became {status}: {states(runner.status(run_id))}")


def test_node_killed_with_sigkill_is_failed_within_seconds_and_resume_finishes(runner, tmp_path):
    marker = tmp_path / "no-more-waiting"
    submitted = runner.submit(workflow(SLOW), {"marker": str(marker)})
    record = wait_for_node(runner, submitted.id, "wait")
    os.kill(record.node("wait").pid, signal.SIGKILL)
    killed_at = time.monotonic()
    final = runner.wait(submitted.id, timeout=30)
    assert time.monotonic() - killed_at < 5
    assert final.status == "failed"
    assert states(final) == {"players": "succeeded", "wait": "failed", "after": "skipped", "side": "succeeded"}
    assert final.node("wait").message == "killed by signal 9"
    assert "attempt 1" in runner.logs(final.id, "wait")

    marker.write_text("go")
    resumed = runner.resume(final.id)
    assert resumed.status == "succeeded"
    assert states(resumed) == {"players": "succeeded", "wait": "succeeded", "after": "succeeded", "side": "succeeded"}
    assert resumed.node("players").started_at == final.node("players").started_at
    assert resumed.node("side").started_at == final.node("side").started_at


def test_driver_killed_with_sigkill_leaves_no_run_running(runner):
    submitted = runner.submit(workflow(SLOW), {})
    record = wait_for_node(runner, submitted.id, "wait")
    os.kill(record.driver_pid, signal.SIGKILL)
    node_pid = record.node("wait").pid
    deadline = time.monotonic() + 10
    while runner.status(submitted.id).status == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    final = runner.status(submitted.id)
    assert final.status == "failed" and "stopped" in final.message
    assert final.node("wait").status == "failed"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process_alive(node_pid):
        time.sleep(0.1)
    assert not process_alive(node_pid), "a node does not outlive its run's driver"


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = open(f"/proc/{pid}/stat").read()
    return stat.split(") ")[1][0] != "Z"


def test_cancel_stops_running_nodes(runner):
    submitted = runner.submit(workflow(SLOW), {})
    record = wait_for_node(runner, submitted.id, "wait")
    node_pid = record.node("wait").pid
    cancelled = runner.cancel(submitted.id)
    assert cancelled.status == "cancelled"
    assert states(cancelled)["wait"] == "cancelled" and states(cancelled)["after"] == "cancelled"
    time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.kill(node_pid, 0)
    assert runner.cancel(submitted.id).status == "cancelled", "cancelling again changes nothing"


def test_two_workflows_at_once_both_complete_with_intact_records(runner, features_spec, tmp_path):
    marker = tmp_path / "m"
    marker.write_text("go")
    first = runner.submit(features_spec, {})
    second = runner.submit(workflow(FLAKY), {"marker": str(marker)})
    done = [runner.wait(first.id, 60), runner.wait(second.id, 60)]
    assert [r.status for r in done] == ["succeeded", "succeeded"]
    assert set(states(done[0]).values()) <= {"succeeded", "cached"} and len(done[0].nodes) == 6
    assert set(states(done[1]).values()) <= {"succeeded", "cached"} and len(done[1].nodes) == 4
    assert {r.id for r in runner.runs.recent()} == {first.id, second.id}


def test_prune_keeps_what_recent_runs_use_and_drops_the_rest(runner, features_spec):
    first = runner.run(features_spec)
    other = runner.run(features_spec, {"test_size": 0.3})
    old_split = first.node("split").fingerprint
    assert old_split != other.node("split").fingerprint
    leftover = runner.cache.new_partial("crashed")
    os.utime(leftover, (time.time() - 7200, time.time() - 7200))
    with runner.runs._transaction() as db:  # age the first run beyond the horizon
        db.execute("UPDATE runs SET created_at = created_at - 40 * 86400 WHERE id = ?", (first.id,))
    for folder in runner.cache.root.iterdir():
        if folder.name == old_split:
            manifest = folder / "manifest.json"
            data = json.loads(manifest.read_text())
            manifest.write_text(json.dumps(data | {"committed_at": time.time() - 40 * 86400}))
    removed, freed = runner.prune_cache(days=30)
    assert removed == 2 and freed > 0
    assert runner.cache.lookup(old_split) is None and not leftover.exists()
    assert all(runner.cache.lookup(n.fingerprint) for n in other.nodes), "outputs of recent runs stay"
    assert set(states(runner.run(features_spec, {"test_size": 0.3})).values()) == {"cached"}
