"""The runner contract (see `pipelines.runner`), run against every runner Tessera has.

The local runner runs for real; the Kubeflow runner is the real `kfp.Client` talking to
the API double in `fake_kubeflow` (runs there progress as they are read).
"""

import time

import pytest

from pipelines.kubeflow_runner import KubeflowRunner
from pipelines.local_runner import LocalRunner
from pipelines.runner import RunOptions
from pipelines.runs import FINAL_RUN_STATES, NODE_STATES, RunNotFound
from tessera.errors import WorkflowInvalid
from tests.pipelines.conftest import kubeflow_workspace, workflow
from tests.pipelines.fake_kubeflow import FakeKubeflow, fake_client

SLOW = """
name: contract_slow
nodes:
- {id: players, component: sample_dataset@1.0.0, params: {rows: 200}}
- {id: wait, component: sleepy@1.0.0, params: {seconds: 60}, inputs: {table: players.table}}
"""


@pytest.fixture(params=["local", "kubeflow"])
def any_runner(request, demo_workspace, toy_store):
    if request.param == "local":
        return LocalRunner(demo_workspace, toy_store)
    runner = KubeflowRunner(kubeflow_workspace(demo_workspace), toy_store, fake_client(FakeKubeflow(finish_after=3)))
    runner.poll_seconds = 0.01
    return runner


def test_submit_returns_at_once_and_wait_reaches_a_final_state(any_runner, features_spec):
    started = time.monotonic()
    record = any_runner.submit(features_spec, {"test_size": 0.25}, RunOptions(sample=300))
    assert time.monotonic() - started < 2
    assert record.status in {"queued", "running"}
    final = any_runner.wait(record.id, timeout=120)
    assert final.status == "succeeded"
    assert {n.status for n in final.nodes} <= set(NODE_STATES)
    assert final.params["test_size"] == 0.25
    assert any_runner.logs(final.id, "split")


def test_submit_refuses_bad_input_before_recording_anything(any_runner, features_spec):
    with pytest.raises(WorkflowInvalid):
        any_runner.submit(features_spec, {"test_size": 2.0})
    with pytest.raises(WorkflowInvalid):
        any_runner.submit(workflow("name: x\nnodes:\n- {id: a, component: nope@1.0.0}\n"), {})
    assert any_runner.runs.recent() == []


def test_status_by_unique_prefix_and_unknown_id(any_runner, features_spec):
    record = any_runner.submit(features_spec, {}, RunOptions(sample=100))
    assert any_runner.status(record.id[:-1]).id == record.id
    with pytest.raises(RunNotFound):
        any_runner.status("no-such-run")
    any_runner.wait(record.id, 120)


def test_cancel_is_final_and_idempotent(any_runner):
    record = any_runner.submit(workflow(SLOW), {})
    deadline = time.monotonic() + 30
    while any_runner.status(record.id).node("wait").status != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    cancelled = any_runner.cancel(record.id)
    assert cancelled.status == "cancelled" and cancelled.status in FINAL_RUN_STATES
    assert any_runner.cancel(record.id).status == "cancelled"
    assert any_runner.wait(record.id, 1).status == "cancelled"
