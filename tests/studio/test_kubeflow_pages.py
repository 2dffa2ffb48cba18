"""The studio with a Kubeflow endpoint configured: the designer's Run on Kubeflow submits there (the real
kfp.Client against the API double), Run here runs locally, and the Runs page links the Kubeflow run. Also:
the Spark + Feast demo opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from pipelines.runs import RunStore
from tests.pipelines.conftest import KUBEFLOW_CONFIG
from tests.pipelines.fake_kubeflow import FakeKubeflow, fake_client

SCREENS = Path(__file__).resolve().parents[2] / "studio" / "screens"


def open_page(name: str, **query: str) -> AppTest:
    app = AppTest.from_file(str(SCREENS / f"{name}.py"), default_timeout=120)
    app.query_params.update(query)
    return app.run()


def test_run_button_submits_to_kubeflow_and_runs_page_links_it(demo_workspace, monkeypatch):
    (demo_workspace.root / "tessera.yaml").write_text(KUBEFLOW_CONFIG.format(name="demo"))
    fake = FakeKubeflow()
    monkeypatch.setattr(
        "pipelines.kubeflow_runner.kubeflow_client", lambda settings: fake_client(fake, settings.namespace)
    )
    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    app = open_page("designer", workflow="risk/player_features")
    assert "Run" not in [b.label for b in app.button], "two buttons say where the run goes"
    next(b for b in app.button if b.label == "Run on Kubeflow").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    (sent,) = fake.sent("POST", "/runs")
    (record,) = RunStore(demo_workspace.state_dir / "runs.db").recent()
    assert record.backend == "kubeflow" and sent["display_name"] == f"player_features {record.id}"
    runs = open_page("runs")
    assert not runs.exception and not runs.error
    links = [m.value for m in runs.markdown if "open the run" in m.value]
    assert links and record.options["kubeflow_url"] in links[0]

    app = open_page("designer", workflow="risk/player_features")
    next(b for b in app.button if b.label == "Run here").click().run()
    assert not app.exception and not app.error, [e.value for e in app.error]
    newest = RunStore(demo_workspace.state_dir / "runs.db").recent()[0]
    assert newest.backend == "local" and newest.id != record.id and len(fake.sent("POST", "/runs")) == 1
    from component_store.store import ComponentStore
    from pipelines.local_runner import LocalRunner

    assert LocalRunner(demo_workspace, ComponentStore()).wait(newest.id, timeout=300).status == "succeeded"


@pytest.mark.parametrize("workflow", ["risk/cheater_detection_feast"])
def test_designer_opens_the_spark_feast_demo(demo_workspace, monkeypatch, workflow):
    monkeypatch.setenv("TESSERA_HOME", str(demo_workspace.root))
    app = open_page("designer", workflow=workflow)
    assert not app.exception, [e.message for e in app.exception]
    assert not app.error, [e.value for e in app.error]
