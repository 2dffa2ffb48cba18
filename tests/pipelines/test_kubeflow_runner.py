"""The Kubeflow runner and schedules: what the real `kfp.Client` sends, checked against `kfp_server_api` models.

The API double (`fake_kubeflow`) sits at the HTTP seam; every request body is checked field by
field against the model the v2beta1 API defines, and must carry the bearer token.
"""

from __future__ import annotations

import json
from datetime import UTC

import pytest
from typer.testing import CliRunner

from pipelines import kubeflow_runner as kubeflow_module
from pipelines.compiler import compile_workflow
from pipelines.kubeflow_runner import KubeflowError, KubeflowRunner, kubeflow_settings
from pipelines.runner import RunOptions
from pipelines.schedules import ScheduleError, Schedules, kfp_cron
from pipelines.workflow_io import parse_workflow
from tessera.errors import WorkflowInvalid, WorkspaceError
from tests.pipelines.conftest import KUBEFLOW_CONFIG, kubeflow_workspace
from tests.pipelines.fake_kubeflow import FakeKubeflow, check_against_model, fake_client


@pytest.fixture
def fake():
    return FakeKubeflow()


@pytest.fixture
def kubeflow(demo_workspace):
    return kubeflow_workspace(demo_workspace)


@pytest.fixture
def runner(kubeflow, store, fake):
    runner = KubeflowRunner(kubeflow, store, fake_client(fake))
    runner.poll_seconds = 0.01
    return runner


def test_submit_creates_the_run_in_the_project_experiment_with_compiled_ir(runner, features_spec, fake, store):
    record = runner.submit(features_spec, {"test_size": 0.3})
    assert record.backend == "kubeflow" and record.status == "queued"
    (experiment,) = fake.sent("POST", "/experiments")
    assert experiment == {"display_name": "risk", "namespace": "risk-team"}
    (sent,) = fake.sent("POST", "/runs")
    assert sent["display_name"] == f"player_features {record.id}"
    assert sent["runtime_config"]["parameters"] == {"players": 5000, "test_size": 0.3}
    expected = compile_workflow(features_spec, store, runtime_image="tessera/runtime:0.1.0")
    assert sent["pipeline_spec"]["root"] == expected["root"]
    executors = sent["pipeline_spec"]["deploymentSpec"]["executors"]
    assert {e["container"]["image"] for e in executors.values()} == {"tessera/runtime:0.1.0"}
    for task in sent["pipeline_spec"]["root"]["dag"]["tasks"].values():  # what the local runner gives a node
        container = executors[task["componentRef"]["name"].replace("comp-", "exec-")]["container"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env["MLFLOW_TRACKING_URI"] == "http://tessera-mlflow:5000" and env["TESSERA_RUN_ID"] == record.id
        assert env["TESSERA_NODE"] == task["taskInfo"]["name"] and env["TESSERA_WORKFLOW"] == "risk/player_features"
        assert env["TESSERA_COMPONENT"] == features_spec.node(env["TESSERA_NODE"]).component
    kfp_id = record.options["kubeflow_run_id"]
    assert record.options["kubeflow_url"] == f"http://kubeflow.test/pipeline/#/runs/details/{kfp_id}"
    runner.submit(features_spec, {})
    assert len(fake.sent("POST", "/experiments")) == 1, "the project's experiment is reused"


def test_node_states_follow_kfp_and_logs_point_to_the_ui(runner, features_spec):
    record = runner.submit(features_spec, {})
    running = runner.status(record.id)
    assert running.status == "running" and {n.status for n in running.nodes} == {"running"}
    final = runner.wait(record.id, timeout=5)
    assert final.status == "succeeded" and {n.status for n in final.nodes} == {"succeeded"}
    assert all(n.started_at and n.ended_at for n in final.nodes)
    log = runner.logs(record.id, "split")
    assert "pod risk-team/split-pod" in log and record.options["kubeflow_url"] in log


def test_a_failed_task_fails_the_run_with_its_message(kubeflow, store, features_spec):
    runner = KubeflowRunner(kubeflow, store, fake_client(FakeKubeflow(finish_after=1, fail_node="fill")))
    final = runner.wait(runner.submit(features_spec, {}).id, timeout=5)
    assert final.status == "failed"
    assert final.node("fill").status == "failed" and final.node("fill").message == "fill: exit code 1"


def test_no_cache_quick_mode_and_run_settings_reach_kfp(demo_workspace, store, features_spec):
    fake = FakeKubeflow()
    workspace = kubeflow_workspace(demo_workspace)
    settings = workspace.config.kubeflow.model_copy(
        update={"service_account": "tessera-runner", "pipeline_root": "minio://mlpipeline/v2/artifacts"}
    )
    workspace = type(workspace)(workspace.root, workspace.config.model_copy(update={"kubeflow": settings}))
    KubeflowRunner(workspace, store, fake_client(fake)).submit(features_spec, {}, RunOptions(no_cache=True, sample=300))
    (sent,) = fake.sent("POST", "/runs")
    assert sent["service_account"] == "tessera-runner"
    assert sent["runtime_config"]["pipeline_root"] == "minio://mlpipeline/v2/artifacts"
    tasks = sent["pipeline_spec"]["root"]["dag"]["tasks"].values()
    assert all(not t.get("cachingOptions", {}).get("enableCache") for t in tasks)
    for executor in sent["pipeline_spec"]["deploymentSpec"]["executors"].values():
        assert {"name": "TESSERA_SAMPLE_ROWS", "value": "300"} in executor["container"]["env"]


def test_bad_token_and_missing_settings_are_clear_errors(kubeflow, demo_workspace, store, features_spec, fake):
    import kfp

    client = kfp.Client(host="http://kubeflow.test/pipeline", namespace="risk-team", existing_token="wrong")
    client._run_api.api_client.rest_client.pool_manager = fake
    with pytest.raises(
        KubeflowError, match="Kubeflow refused to create a run of 'risk/player_features': 401 .*check the token"
    ):
        KubeflowRunner(kubeflow, store, client).submit(features_spec, {})
    with pytest.raises(WorkspaceError, match="has no Kubeflow endpoint; add to .*tessera.yaml:\nkubeflow:\n  host:"):
        kubeflow_settings(demo_workspace)
    with pytest.raises(WorkflowInvalid):
        KubeflowRunner(kubeflow, store, client).submit(features_spec, {"test_size": 5.0})
    local_tracking = type(kubeflow)(
        kubeflow.root, kubeflow.config.model_copy(update={"tracking_uri": "sqlite:///x.db"})
    )
    with pytest.raises(KubeflowError, match="tracking_uri 'sqlite:///x.db' is a file on this machine.*MLflow server"):
        KubeflowRunner(local_tracking, store, client).submit(features_spec, {})
    assert fake.sent("POST", "/runs") == [], "a bad run is refused before anything is sent"


def test_integer_literals_for_float_params_compile(toy_store):
    spec = parse_workflow(
        "name: ints\nnodes:\n- {id: data, component: sample_dataset@1.0.0}\n"
        "- {id: wait, component: sleepy@1.0.0, params: {seconds: 60}, inputs: {table: data.table}}\n"
    )
    task = compile_workflow(spec, toy_store)["root"]["dag"]["tasks"]["wait"]
    assert task["inputs"]["parameters"]["seconds"] == {"runtimeValue": {"constant": 60.0}}


# ---- schedules ---------------------------------------------------------------------------


def test_schedule_lifecycle_sends_valid_recurring_runs(kubeflow, store, features_spec, fake):
    schedules = Schedules(kubeflow, store, fake_client(fake))
    created = schedules.create(features_spec, "0 3 * * *", {"players": 20000})
    (sent,) = fake.sent("POST", "/recurringruns")
    check_against_model(sent, "V2beta1RecurringRun")
    assert sent["display_name"] == "risk/player_features"
    assert sent["trigger"] == {"cron_schedule": {"cron": "0 0 3 * * *"}}
    assert sent["mode"] == "ENABLE" and sent["no_catchup"] is True and int(sent["max_concurrency"]) == 1
    assert sent["runtime_config"]["parameters"]["players"] == 20000
    assert created.name == "risk/player_features" and created.enabled
    assert [s.name for s in schedules.list()] == ["risk/player_features"]
    assert schedules.pause("risk/player_features").enabled is False
    assert schedules.resume(created.id).enabled is True
    with pytest.raises(ScheduleError, match="A schedule named 'risk/player_features' exists"):
        schedules.create(features_spec, "0 4 * * *", {})
    with pytest.raises(ScheduleError, match="No schedule 'risk/player_feature' .*did you mean 'risk/player_features'"):
        schedules.delete("risk/player_feature")
    schedules.delete("risk/player_features")
    assert schedules.list() == []


@pytest.mark.parametrize(
    "cron",
    ["0 3 * *", "every day", "61 3 * * * * *", "0 3 * * MON;", "0 25 * * *", "61 * * * *", "0 3 32 * *", "0 3 * 13 *"],
)
def test_bad_cron_is_refused_before_anything_is_sent(kubeflow, store, features_spec, fake, cron):
    with pytest.raises(ScheduleError, match="is not a cron expression; write five fields"):
        Schedules(kubeflow, store, fake_client(fake)).create(features_spec, cron, {})
    assert fake.requests == []


def test_kfp_cron_keeps_six_fields_and_prefixes_five():
    assert kfp_cron("*/15 * * * 1-5") == "0 */15 * * * 1-5"
    assert kfp_cron("30 0 3 * * *") == "30 0 3 * * *"


def test_a_date_that_never_comes_is_refused_and_next_runs_are_previewed():
    from datetime import datetime

    from pipelines.schedules import next_runs

    with pytest.raises(ScheduleError, match="never comes round"):
        kfp_cron("0 3 31 2 *")
    start = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert [t.isoformat() for t in next_runs("0 3 * * 1", 3, start)] == [
        "2026-12-07T03:00:00+00:00", "2026-12-14T03:00:00+00:00", "2026-12-21T03:00:00+00:00",
    ]  # fmt: skip
    assert next_runs("30 0 3 * * *", 1, start)[0].isoformat() == "2026-12-05T03:00:30+00:00", (
        "six fields: seconds first"
    )


# ---- the CLI ------------------------------------------------------------------------------


def test_cli_runs_on_kubeflow_and_manages_schedules(demo_workspace, fake, monkeypatch):
    from studio.cli import app

    (demo_workspace.root / "tessera.yaml").write_text(KUBEFLOW_CONFIG.format(name="demo"))
    monkeypatch.setattr(kubeflow_module, "kubeflow_client", lambda settings: fake_client(fake, settings.namespace))
    monkeypatch.setattr("pipelines.schedules.kubeflow_client", lambda settings: fake_client(fake, settings.namespace))
    monkeypatch.chdir(demo_workspace.root)
    monkeypatch.setenv("COLUMNS", "250")  # tables on one line each
    monkeypatch.setattr(KubeflowRunner, "__init__", _fast_polling(KubeflowRunner.__init__))
    cli = CliRunner()

    ran = cli.invoke(app, ["run", "player_features", "--backend", "kubeflow", "-p", "test_size=0.3"])
    assert ran.exit_code == 0, ran.output
    assert "created on Kubeflow: http://kubeflow.test/pipeline/#/runs/details/" in ran.output
    assert "succeeded" in ran.output
    created = cli.invoke(app, ["schedule", "create", "player_features", "--cron", "0 3 * * *", "-p", "players=9000"])
    assert created.exit_code == 0, created.output
    assert created.output.count(" 03:00 UTC") == 3, "the next three runs are shown"
    listed = cli.invoke(app, ["schedule", "list"])
    as_json = json.loads(cli.invoke(app, ["schedule", "list", "--json"]).stdout)
    assert [(s["name"], s["cron"], s["enabled"]) for s in as_json] == [("risk/player_features", "0 0 3 * * *", True)]
    assert "risk/player_features" in listed.output and "0 0 3 * * *" in listed.output and "enabled" in listed.output
    assert cli.invoke(app, ["schedule", "pause", "risk/player_features"]).exit_code == 0
    assert "paused" in cli.invoke(app, ["schedule", "list"]).output
    assert cli.invoke(app, ["schedule", "delete", "risk/player_features"]).exit_code == 0
    assert "risk/player_features" not in cli.invoke(app, ["schedule", "list"]).output


def _fast_polling(init):
    def patched(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.poll_seconds = 0.01

    return patched


def test_a_false_condition_on_kubeflow_leaves_its_nodes_not_run_and_the_run_green(kubeflow, store, demo_workspace):
    """The demo's registration sits in dsl.If(gate.decision == 'accept'); KFP never creates its tasks when the
    gate rejects, and the run succeeds: the same record as the local runner's."""
    fake = FakeKubeflow(finish_after=1, false_conditions=frozenset({"condition-1"}))
    runner = KubeflowRunner(kubeflow, store, fake_client(fake))
    runner.poll_seconds = 0.01
    spec = parse_workflow(demo_workspace.find_workflow("cheater_detection").read_text())
    record = runner.wait(runner.submit(spec, {}).id, timeout=30)
    assert record.status == "succeeded"
    states = {n.node_id: n.status for n in record.nodes}
    assert states["gate"] == "succeeded" and states["register"] == states["serve"] == "not_run"


def test_a_sweep_on_kubeflow_is_one_run_per_point_in_the_project_experiment(kubeflow, store, features_spec):
    from pipelines.sweeps import Sweeps

    fake = FakeKubeflow(finish_after=1)
    runner = KubeflowRunner(kubeflow, store, fake_client(fake))
    sweeps = Sweeps(kubeflow, runner, store)
    sweep = sweeps.start(features_spec, {"test_size": [0.2, 0.3], "players": [300, 400]}, {}, parallelism=2)
    sent = fake.sent("POST", "/runs")
    assert sorted((s["runtime_config"]["parameters"]["test_size"], s["runtime_config"]["parameters"]["players"])
                  for s in sent) == [(0.2, 300), (0.2, 400), (0.3, 300), (0.3, 400)]  # fmt: skip
    assert len({s["experiment_id"] for s in sent}) == 1, "one experiment: the project's"
    assert [row["status"] for row in sweeps.compare(sweep)] == ["succeeded"] * 4


def test_monitors_become_recurring_runs_that_retrain_only_in_a_new_drift_episode(kubeflow, store, fake):
    """`tessera monitor schedule`: monitor_endpoint every 6 hours, the retraining workflow's first steps
    under dsl.If(monitor.new_episode == true), the schedule replaced when it exists."""
    from pipelines.monitors import every_as_cron, schedule_monitors
    from serving.endpoint_registry import EndpointRecord
    from serving.endpoints import EndpointRequest
    from serving.targets import local_target
    from tessera.errors import TesseraError
    from tessera.workspace import MonitorConfig, RetrainAction, Workspace

    request = EndpointRequest(name="cheater-api", model="cheater-detector@champion", namespace="risk-team")
    local_target(kubeflow).registry.create(EndpointRecord("cheater-api", "kserve", request, "serving"))
    retrain = RetrainAction(run="player_features", params={"players": 5000})
    monitor = MonitorConfig(endpoint="cheater-api", every="6h", window="24h", drift_share=0.3, on_drift=retrain)
    monitored = Workspace(kubeflow.root, kubeflow.config.model_copy(update={"monitors": (monitor,)}))
    made = schedule_monitors(monitored, store, fake_client(fake))
    assert [(m.name, m.cron) for m in made] == [("monitor/cheater-api", "0 0 */6 * * *")]
    (sent,) = fake.sent("POST", "/recurringruns")
    check_against_model(sent, "V2beta1RecurringRun")
    spec = sent["pipeline_spec"]
    tasks = spec["root"]["dag"]["tasks"]
    monitor_task = tasks["monitor"]
    inputs = monitor_task["inputs"]["parameters"]
    assert inputs["endpoint"]["runtimeValue"]["constant"] == "cheater-api"
    assert inputs["model_name"]["runtimeValue"]["constant"] == "cheater-detector"
    (branch,) = [t for name, t in tasks.items() if name.startswith("condition")]
    assert "new_episode" in json.dumps(branch["triggerPolicy"]) and "true" in branch["triggerPolicy"]["condition"]
    retrained = spec["components"][branch["componentRef"]["name"]]["dag"]["tasks"]
    assert set(retrained) == {"players", "profile", "validate", "fill", "encode", "split"}, "all under the gate"
    assert branch["triggerPolicy"]["condition"].endswith("== true"), branch["triggerPolicy"]
    assert spec["root"]["inputDefinitions"]["parameters"]["players"]["defaultValue"] == 5000, "on_drift's params"

    schedule_monitors(monitored, store, fake_client(fake))
    assert (
        len(fake.sent("POST", "/recurringruns")) == 2
        and len(Schedules(monitored, store, fake_client(fake)).list()) == 1
    )
    assert every_as_cron("30m") == "*/30 * * * *" and every_as_cron("1d") == "0 0 */1 * *"
    with pytest.raises(TesseraError, match="cannot be a cron schedule"):
        every_as_cron("7m")
    unknown = MonitorConfig(endpoint="fraud-api")
    elsewhere = Workspace(kubeflow.root, kubeflow.config.model_copy(update={"monitors": (unknown,)}))
    with pytest.raises(TesseraError, match="no such endpoint in this workspace; deploy it first"):
        schedule_monitors(elsewhere, store, fake_client(fake))
