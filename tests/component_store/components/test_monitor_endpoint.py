"""monitor_endpoint as a Kubeflow task runs it: no workspace folder, the endpoint deployed from elsewhere,
its traffic logged by KServe's logger through the log receiver into a real S3-compatible server (moto's),
rows sent as lists (v1) and named by the version's signature. A stranger's model: a diabetes regressor
registered from a notebook. Drift is found on the shifted column, once per episode."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from kfp.dsl import Markdown, Metrics

from component_store.components.monitor_endpoint import monitor_endpoint
from serving.log_receiver import REQUEST_TYPE, RESPONSE_TYPE, LogReceiver, receiver_app, signature_columns
from serving.monitoring import drift_episode
from tests.servers import serving_app
from tests.serving.fixtures import wait_for_rows
from tests.serving.test_log_receiver import ROOT, kserve_event, post_event

pytestmark = pytest.mark.slow


def test_monitor_endpoint_in_a_pod_finds_drift_in_the_s3_log_once_per_episode(
    s3: str, tmp_path: Path, output, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    import tessera
    from tessera.workspace import init_workspace

    folder = init_workspace(tmp_path / "notebook")
    data = load_diabetes(as_frame=True).frame
    features = data.drop(columns="target")
    model = GradientBoostingRegressor(n_estimators=30, random_state=0).fit(features, data["target"])
    tessera.open(folder.root).models.register(model, "diabetes", features=features, alias="champion")
    tracking_uri = folder.tracking_uri()

    taker = LogReceiver(ROOT, signature_columns(tracking_uri), flush_seconds=0.2)
    shifted = features.sample(300, replace=True, random_state=1).assign(bmi=lambda f: f["bmi"] + 0.08)
    query = "endpoint=diabetes-api&model=diabetes&version=1"
    with serving_app(receiver_app(taker)) as url:
        for start in range(0, 300, 50):
            batch = shifted.iloc[start : start + 50]
            request = {"instances": batch.to_numpy().tolist()}
            response = {"predictions": model.predict(batch).tolist()}
            assert post_event(url, kserve_event(REQUEST_TYPE, f"d-{start}", request), query).status_code == 202
            assert post_event(url, kserve_event(RESPONSE_TYPE, f"d-{start}", response), query).status_code == 202
        logged = wait_for_rows(f"{ROOT}/diabetes-api", 300)
    taker.close()
    assert "input:bmi" in logged.columns, "list rows are named by the version's signature"

    # the task's view: no workspace folder, what the Kubeflow runner gives every task
    pod = tmp_path / "pod"
    pod.mkdir()
    monkeypatch.chdir(pod)
    monkeypatch.delenv("TESSERA_HOME", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("TESSERA_PREDICTION_LOG", ROOT)
    report, metrics = output("report", Markdown), output("metrics", Metrics)
    drift, new_episode, share = monitor_endpoint(
        report=report, metrics=metrics, endpoint="diabetes-api", since="1h", drift_share=0.1, model_name="diabetes"
    )
    text = Path(report.path).read_text()
    assert drift and new_episode and 0.1 <= share < 0.5, text
    assert "| bmi | numeric | ks |" in text and "diabetes/1" in text
    assert metrics.metadata["rows"] == 300 and metrics.metadata["dataset_drift"] == 1
    again = monitor_endpoint(
        report=output("again", Markdown), metrics=output("m2", Metrics), endpoint="diabetes-api", since="1h",
        drift_share=0.1, model_name="diabetes",
    )  # fmt: skip
    assert again[0] and not again[1], "the same episode: nothing new to start"
    assert not drift_episode(tracking_uri, "diabetes", "diabetes-api", drifting=False), "the drift ended"
    assert drift_episode(tracking_uri, "diabetes", "diabetes-api", drifting=True), "a new episode"

    quiet = monitor_endpoint(
        report=output("quiet", Markdown), metrics=output("m3", Metrics), endpoint="other-api", since="1h",
        model_name="diabetes",
    )  # fmt: skip
    assert quiet == (False, False, 0.0) and "Nothing to compare" in Path(output("quiet", Markdown).path).read_text()
    with pytest.raises(Exception, match="name its registered model"):
        monitor_endpoint(report=output("r4", Markdown), metrics=output("m4", Metrics), endpoint="diabetes-api")
    assert "TESSERA_HOME" not in os.environ
