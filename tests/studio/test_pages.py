"""Every studio page under Streamlit's AppTest on a workspace with a finished demo run: it renders,
it rejects bad values with st.error, and its actions change the workspace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from serving.local_target import LocalProcessTarget
from tessera.workspace import Workspace

pytestmark = pytest.mark.slow
SCREENS = Path(__file__).resolve().parents[2] / "studio" / "screens"
PAGES = ["home", "store", "designer", "runs", "models", "endpoints", "monitoring", "tuning"]


@pytest.fixture
def page(studio_workspace: Workspace, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TESSERA_HOME", str(studio_workspace.root))

    def open_page(name: str, **query: str) -> AppTest:
        app = AppTest.from_file(str(SCREENS / f"{name}.py"), default_timeout=120)
        app.query_params.update(query)
        return app.run()

    return open_page


def errors(app: AppTest) -> list[str]:
    return [e.value for e in app.error]


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_on_the_demo_workspace(page, name: str) -> None:
    app = page(name)
    assert not app.exception, [e.message for e in app.exception]
    assert not errors(app)


def test_the_app_navigates_to_every_page(studio_workspace: Workspace, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_HOME", str(studio_workspace.root))
    app = AppTest.from_file(str(SCREENS.parent / "app.py"), default_timeout=60).run()
    assert not app.exception and app.title[0].value.startswith("Tessera ·")
    for name in PAGES[1:]:
        app.switch_page(str(SCREENS / f"{name}.py")).run()
        assert not app.exception, (name, [e.message for e in app.exception])


def test_home_creates_a_workflow_and_refuses_a_bad_name(page, studio_workspace: Workspace) -> None:
    app = page("home")
    app.text_input[1].input("Churn Model")
    app.button[0].click().run()
    assert "names are lower-case letters" in errors(app)[0]
    app.text_input[1].input("churn_model")
    app.selectbox[0].select("cheater detection (demo)")
    app.button[0].click().run()
    created = studio_workspace.workflows_dir("risk") / "churn_model.yaml"
    assert created.exists() and yaml.safe_load(created.read_text())["name"] == "churn_model"
    assert "churn_model" in app.dataframe[0].value["workflow"].tolist(), "listed at once"
    assert "designer?workflow=risk/churn_model" in app.success[0].value, "a link to the new workflow"
    before = created.read_text()
    app.button[0].click().run()  # the click after Enter already created it
    assert not errors(app) and "was just created" in app.info[0].value
    app.session_state["created-workflow"] = "risk/other"  # as in another session, which did not create it
    app.button[0].click().run()
    assert "already exists" in errors(app)[0] and created.read_text() == before, "nothing is overwritten"


def test_designer_saves_a_param_and_rejects_bad_json(page, studio_workspace: Workspace) -> None:
    path = studio_workspace.find_workflow("cheater_detection")
    app = page("designer", workflow="risk/cheater_detection")
    step = next(s for s in app.selectbox if s.label == "Step")
    step.select("tune").run()
    drop = next(t for t in app.text_area if t.label == "drop_columns")
    drop.input("[player_id")  # a form: the value goes with the submit
    next(b for b in app.button if b.label == "Apply parameters").click().run()
    assert any("tune › drop_columns: not JSON" in e for e in errors(app))
    assert "player_id" in path.read_text() and "[player_id\n" not in path.read_text(), "nothing half-written"

    app = page("designer", workflow="risk/cheater_detection")
    next(s for s in app.selectbox if s.label == "Step").select("players").run()
    next(n for n in app.number_input if n.label == "seed").set_value(7)
    next(b for b in app.button if b.label == "Apply parameters").click().run()
    players = next(n for n in yaml.safe_load(path.read_text())["nodes"] if n["id"] == "players")
    assert players["params"]["seed"] == 7


def test_designer_run_button_starts_a_run_recorded_in_the_workspace(page, studio_workspace: Workspace) -> None:
    from component_store.store import ComponentStore
    from pipelines.local_runner import LocalRunner

    runner = LocalRunner(studio_workspace, ComponentStore())
    before = {r.id for r in runner.runs.recent(limit=100)}
    app = page("designer", workflow="risk/player_features")
    next(b for b in app.button if b.label == "Run").click().run()
    assert not errors(app)
    started = [r for r in runner.runs.recent(limit=100) if r.id not in before]
    assert [r.workflow for r in started] == ["risk/player_features"]
    assert runner.wait(started[0].id, timeout=300).status == "succeeded"


def test_the_designers_top_bar_shows_progress_and_cancels_or_resumes_the_latest_run(
    page, studio_workspace: Workspace
) -> None:
    from component_store.store import ComponentStore
    from pipelines.local_runner import LocalRunner
    from pipelines.runner import RunOptions
    from pipelines.workflow_io import parse_workflow

    runner = LocalRunner(studio_workspace, ComponentStore())
    spec = parse_workflow(studio_workspace.find_workflow("risk/player_features").read_text())
    queued = runner.create_run(spec, {}, RunOptions())  # recorded, waiting for a driver
    app = page("designer", workflow="risk/player_features")
    assert any(f"0/{len(spec.nodes)} steps" in m.value for m in app.markdown)
    next(b for b in app.button if b.label == "Cancel").click().run()
    assert runner.status(queued.id).status == "cancelled"
    app = page("designer", workflow="risk/player_features")
    next(b for b in app.button if b.label == "Resume").click().run()
    assert not errors(app)
    finished = runner.wait(queued.id, timeout=300)
    assert finished.status == "succeeded", [(n.node_id, n.status, n.message) for n in finished.nodes]
    app = page("designer", workflow="risk/player_features")
    assert any(f"{len(spec.nodes)}/{len(spec.nodes)} steps" in m.value for m in app.markdown)
    assert not [b for b in app.button if b.label in ("Cancel", "Resume")], "nothing to cancel or resume"


def test_models_promote_and_a_refused_rollback(page, studio_workspace: Workspace) -> None:
    from serving.model_registry import ModelRegistry

    app = page("models")
    next(t for t in app.text_input if t.key == "rollback-alias").input("canary")
    next(b for b in app.button if b.label == "Roll back").click().run()
    assert "Alias 'canary' of model 'cheater-detector' has no earlier version to roll back to" in errors(app)[0]
    newest = next(s for s in app.selectbox if s.label == "Version").value
    next(t for t in app.text_input if t.label == "Alias" and t.key != "rollback-alias").input("staging")
    next(b for b in app.button if b.label == "Promote").click().run()
    assert not errors(app) and app.success[0].value.startswith(f"cheater-detector@staging → {newest}")
    registry = ModelRegistry(studio_workspace.tracking_uri())
    assert registry.resolve("cheater-detector@staging").version == newest


def test_endpoints_deploy_then_try_it_and_refuse_a_bad_name(page, studio_workspace: Workspace) -> None:
    app = page("endpoints")
    app.text_input[0].input("Bad Name")
    next(b for b in app.button if b.label == "Deploy endpoint").click().run()
    assert errors(app)[0].startswith("Could not deploy 'Bad Name': name:") and "lower-case" in errors(app)[0]
    app.text_input[0].input("studio-api")
    next(s for s in app.selectbox if s.label.startswith("Model")).select("cheater-detector@champion")
    next(b for b in app.button if b.label == "Deploy endpoint").click().run()
    assert not errors(app), errors(app)
    assert (studio_workspace.state_dir / "endpoints" / "studio-api.token").exists()

    app = page("endpoints")
    next(s for s in app.selectbox if s.label == "Endpoint").select("studio-api").run()
    # The endpoint takes raw player rows: a text column with known values is a choice of them.
    groups = [e.label for e in app.expander if e.label.split(" (")[0] in ("choices", "numbers", "whole numbers")]
    assert groups and groups[0].startswith("choices ("), f"the form's fields grouped by kind: {groups}"
    country = next(s for s in app.selectbox if s.key == "try-country")
    assert "DE" in country.options and "other" not in country.options
    country.select("DE")
    next(b for b in app.button if b.label == "Send request").click().run()
    assert not errors(app), errors(app)
    from serving.endpoint_client import EndpointClient
    from serving.model_registry import ModelRegistry

    champion = ModelRegistry(studio_workspace.tracking_uri()).resolve("cheater-detector@champion").version
    answers = [s.value for s in app.success]
    assert any(a.startswith(f"answered by version {champion}") for a in answers), answers
    widgets = [*app.selectbox, *app.number_input, *app.text_input, *app.checkbox]
    sent = {w.key.removeprefix("try-"): w.value for w in widgets if (w.key or "").startswith("try-")}
    assert sent["country"] == "DE"
    token = (studio_workspace.state_dir / "endpoints" / "studio-api.token").read_text().strip()
    url = next(e for e in LocalProcessTarget(studio_workspace).list() if e.name == "studio-api").url
    direct = EndpointClient(url, "studio-api", token).predict([sent])
    shown = app.json[0].value
    assert json.loads(shown)["probabilities"] == direct["probabilities"], "the form sent the chosen country"


def monitoring_of(app: AppTest, endpoint: str) -> AppTest:
    return next(s for s in app.selectbox if s.label == "Endpoint").select(endpoint).run()


def test_monitoring_shows_the_demo_endpoints_traffic_and_the_shifted_columns(page, studio_workspace: Workspace) -> None:
    import time

    import tessera
    from serving.monitoring import demo_rows, read_log
    from serving.prediction_log import predictions_folder

    frame, shifted = demo_rows(studio_workspace, "cheater-api", 600, shift=True, seed=3)
    endpoint = tessera.open(studio_workspace.root).endpoint("cheater-api")
    for start in range(0, 600, 100):
        endpoint.predict(frame.iloc[start : start + 100])
    deadline = time.monotonic() + 30
    while len(read_log(predictions_folder(studio_workspace.state_dir, "cheater-api"), 0)) < 600:
        assert time.monotonic() < deadline, "the endpoint did not log its predictions"
        time.sleep(0.3)

    app = monitoring_of(page("monitoring"), "cheater-api")  # other tests' endpoints may come first
    assert not app.exception and not errors(app), [e.message for e in app.exception]
    assert app.dataframe, [i.value for i in app.info]
    drift = app.dataframe[0].value
    drifted = set(drift[drift["drifted"]]["column"])
    assert set(shifted) <= drifted and "player_id" not in set(drift["column"]), drift
    assert any("dataset drift" in m.value for m in app.markdown)
    assert any("No labels yet" in c.value for c in app.caption)

    # labels arrive: performance over time beside the test set's, and latency from the log
    from serving.monitoring import performance_report, save_performance

    logged = read_log(predictions_folder(studio_workspace.state_dir, "cheater-api"), 0)
    assert logged["latency_ms"].gt(0).all(), "every request is timed"
    labels = logged[["request_id", "row"]].assign(is_cheater=(logged.index % 3 == 0).astype(int))
    save_performance(studio_workspace, performance_report(studio_workspace, "cheater-api", labels, "request_id"))
    app = monitoring_of(page("monitoring"), "cheater-api")
    assert not app.exception and not errors(app), [e.message for e in app.exception]
    assert [s.label for s in app.selectbox if s.label == "Metric"] == ["Metric"]
    charts = app.get("plotly_chart")
    assert len(charts) >= 5, "traffic, latency, reference vs current, predictions, performance"


def test_a_preview_runs_in_the_studios_process_and_a_changed_step_reruns_alone(
    page, studio_workspace: Workspace
) -> None:
    """The designer's previews are driven on the studio's own warm runner (no driver process, the fork
    server kept between previews: docs/benchmarks.md), and a changed step's preview reruns only that step."""
    import os

    from component_store.store import ComponentStore
    from pipelines.local_runner import LocalRunner

    runs = LocalRunner(studio_workspace, ComponentStore()).runs

    def preview_fill(app: AppTest) -> dict[str, str]:
        before = {r.id for r in runs.recent(limit=100)}
        next(b for b in app.button if b.label == "Preview fill").click().run()
        assert not errors(app)
        (started,) = [r for r in runs.recent(limit=100) if r.id not in before]
        assert started.driver_pid == os.getpid(), "driven in the studio's process, not a new driver"
        finished = LocalRunner(studio_workspace, ComponentStore()).wait(started.id, timeout=300)
        assert finished.status == "succeeded", finished.message
        app.run()
        assert any(c.value.startswith("500 rows × ") for c in app.caption), "the step's data sample is shown"
        return {n.node_id: n.status for n in finished.nodes}

    app = page("designer", workflow="risk/player_features")
    next(s for s in app.selectbox if s.label == "Step").select("fill").run()
    preview_fill(app)
    next(s for s in app.selectbox if s.label == "strategy").select("mean")
    next(b for b in app.button if b.label == "Apply parameters").click().run()
    assert "No run has made this step's outputs as it is now." in [c.value for c in app.caption], "stale data hidden"
    assert preview_fill(app) == {"players": "cached", "validate": "cached", "fill": "succeeded"}


def test_the_step_panel_shows_a_steps_data_and_log_from_the_last_run_without_a_click(
    page, studio_workspace: Workspace
) -> None:
    from component_store.store import ComponentStore
    from pipelines.local_runner import LocalRunner
    from pipelines.runner import RunOptions
    from pipelines.workflow_io import parse_workflow

    source = studio_workspace.find_workflow("player_features")  # a copy: other tests edit the demo's workflows
    copy = source.with_name("panel_check.yaml")
    copy.write_text(source.read_text().replace("name: player_features", "name: panel_check", 1))
    runner = LocalRunner(studio_workspace, ComponentStore())
    assert runner.run(parse_workflow(copy.read_text()), {"players": 300}, RunOptions()).status == "succeeded"

    app = page("designer", workflow="risk/panel_check")
    assert [t.label for t in app.tabs] == ["Parameters", "Inputs", "Data", "Metrics", "Logs", "Control", "Resources"]
    next(s for s in app.selectbox if s.label == "Step").select("split").run()
    captions = [c.value for c in app.caption]
    assert "train_test_split writes no metrics; an evaluate or tune step does." in captions
    # run with fewer players than the default: the data says so
    assert any(c.startswith("from run `") and "(a whole run), run with players=300" in c for c in captions), captions
    assert any(" rows × " in c for c in captions), "a sample of its outputs, without a click"
    (ran,) = [c.split("`")[1] for c in captions if c.startswith("run `") and c.endswith("· succeeded")]
    log = runner.logs(ran, "split")
    assert "=== split (train_test_split@" in log and log[-6000:].strip() in [c.value.strip() for c in app.code], (
        "its log"
    )


def test_the_runs_page_draws_the_selected_runs_timeline(page) -> None:
    app = page("runs")
    assert not errors(app) and not app.exception
    charts = [json.loads(chart.proto.spec) for chart in app.get("plotly_chart")]
    timelines = [c for c in charts if c["layout"].get("title", {}).get("text") == "Timeline"]
    assert timelines and {bar["orientation"] for bar in timelines[0]["data"]} == {"h"}


def test_the_models_page_draws_a_versions_lineage_linked_to_the_run_page(page) -> None:
    app = page("models")
    assert not errors(app) and not app.exception
    (chart,) = app.get("graphviz_chart")
    dot = chart.proto.spec
    for box in ("model cheater-detector v", "MLflow run ", "step ", "run ", "players · sample_dataset@"):
        assert box in dot, box
    run_id = dot.split('"run:')[1].split('"')[0]
    runs = page("runs", run=run_id)
    assert next(s for s in runs.selectbox if s.label == "Run").value == run_id, "the link opens that run"


def test_an_evaluation_steps_outputs_show_its_confusion_matrix_and_its_mlflow_plots(
    page, studio_workspace: Workspace
) -> None:
    from component_store.store import ComponentStore
    from pipelines.local_runner import LocalRunner

    runs = LocalRunner(studio_workspace, ComponentStore()).runs.recent(limit=100, workflow="risk/cheater_detection")
    demo = next(r for r in runs if any(n.node_id == "evaluate" and n.status == "succeeded" for n in r.nodes))
    app = page("runs", run=demo.id)
    next(s for s in app.selectbox if s.label == "Node").select("evaluate").run()
    assert not errors(app) and not app.exception
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text") for c in app.get("plotly_chart")]
    assert "Confusion matrix" in titles and "ROC curve" in titles, titles
    importance = next(
        json.loads(c.proto.spec) for c in app.get("plotly_chart")
        if "Feature importance" in json.loads(c.proto.spec)["layout"]["title"]["text"]
    )  # fmt: skip
    names = importance["data"][0]["y"]
    assert names and "player_id" not in names, "the model's features, identifiers left out by encode"
    captions = {str(getattr(image, "caption", "")) or str(image.proto) for image in app.get("image")}
    assert any("precision_recall.png" in c for c in captions) and any("calibration.png" in c for c in captions), (
        captions
    )
    next(s for s in app.selectbox if s.label == "Node").select("tune").run()
    assert not errors(app) and not app.exception
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text") for c in app.get("plotly_chart")]
    assert "Optimization History Plot" in titles, "a tuning step's Optuna history"


def test_the_designer_compiles_for_kubeflow_only_when_the_download_is_clicked(
    page, studio_workspace: Workspace, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    import pipelines.compiler
    from studio import ui

    compiled = []
    real = pipelines.compiler.compile_to_yaml
    monkeypatch.setattr(pipelines.compiler, "compile_to_yaml", lambda *a, **k: compiled.append(a) or real(*a, **k))
    app = page("designer", workflow="risk/cheater_detection")
    app.run()
    assert not app.exception and compiled == [], "drawing the page and rerunning it compile nothing"

    text = ui.made_on_click(lambda: real(*compiled_args(studio_workspace)), "compile for Kubeflow")()
    assert text.startswith("# PIPELINE DEFINITION") or "pipelineInfo" in text

    def broken() -> str:
        raise ValueError("component 'train' has no image")

    with caplog.at_level("ERROR", logger="tessera.studio"):
        said = ui.made_on_click(broken, "compile for Kubeflow")()
    assert said == "# Could not compile for Kubeflow: ValueError: component 'train' has no image\n"
    assert "could not compile for Kubeflow" in caplog.text


def compiled_args(workspace: Workspace) -> tuple:
    from component_store.store import workspace_store
    from pipelines.workflow_io import load_workflow

    store = workspace_store(workspace)
    path = next(p for p in workspace.workflow_files() if p.stem == "cheater_detection")
    return load_workflow(path, store), store
