"""Monitoring: each drift statistic against scipy's own (or an independent test), a seeded shift found on
the shifted columns only, and the whole loop on a stranger's model (a diabetes regressor registered from
a notebook): endpoint → prediction log → `tessera monitor report` → shifted demo traffic → drift;
kill -9 of the endpoint leaves no file a reader cannot read."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

import tessera
from serving.drift import (
    column_drift,
    dataset_drift,
    jensen_shannon,
    numeric_psi,
    proportions_z_test,
    wasserstein,
)
from serving.monitoring import MonitorError, monitor_report, parse_window
from serving.prediction_log import FILE_GLOB, predictions_folder
from tessera.workspace import init_workspace, load_workspace
from tests.serving.fixtures import wait_for_rows


def test_each_statistic_equals_scipys_on_hand_made_samples() -> None:
    rng = np.random.default_rng(1)
    reference, current = rng.normal(0, 1, 300), rng.normal(0.3, 1.2, 400)
    ks = column_drift("x", pd.Series(reference), pd.Series(current), reference_rows=300)
    assert ks.statistic == "ks" and ks.value == pytest.approx(stats.ks_2samp(reference, current).pvalue)
    wide = column_drift("x", pd.Series(reference), pd.Series(current), reference_rows=50_000)
    expected = stats.wasserstein_distance(reference, current) / np.std(reference)
    assert wide.statistic == "wasserstein" and wide.value == pytest.approx(expected)
    # our one-sort Wasserstein is scipy's, ties and lopsided sizes included
    for ref_sample, cur_sample in (
        (np.round(rng.normal(0, 1, 50), 1), np.round(rng.normal(0.2, 1, 5000), 1)),
        (np.array([3.0]), np.array([1.0, 3.0, 3.0, 7.0])),
        (rng.integers(0, 4, 200).astype(float), rng.integers(0, 4, 200).astype(float)),
    ):
        assert wasserstein(ref_sample, cur_sample) == pytest.approx(stats.wasserstein_distance(ref_sample, cur_sample))

    ref_text = pd.Series(["a"] * 50 + ["b"] * 30 + ["c"] * 20)
    cur_text = pd.Series(["a"] * 30 + ["b"] * 30 + ["c"] * 40)
    chi = column_drift("c", ref_text, cur_text, reference_rows=100)
    by_hand = stats.chisquare([30, 30, 40], [50, 30, 20]).pvalue
    assert chi.statistic == "chi_squared" and chi.value == pytest.approx(by_hand)
    js = column_drift("c", ref_text, cur_text, reference_rows=5000)
    assert js.statistic == "jensen_shannon" and js.value == pytest.approx(
        jensenshannon([0.5, 0.3, 0.2], [0.3, 0.3, 0.4])
    )

    # the pooled two-proportion z-test is the 2×2 chi-squared test without continuity correction
    z = proportions_z_test(np.array([70.0, 30.0]), np.array([55.0, 45.0]))
    assert z == pytest.approx(stats.chi2_contingency([[70, 30], [55, 45]], correction=False).pvalue)
    assert (
        column_drift("b", pd.Series([True] * 70 + [False] * 30), pd.Series([True] * 55 + [False] * 45), 100).statistic
        == "z_test"
    )

    # PSI by hand: two bins split at the reference's median (49.5); every current value lands above it,
    # and an empty bin counts as a share of 1e-4
    psi = numeric_psi(np.arange(100.0), np.arange(50.0, 150.0), bins=2)
    ref_share, cur_share = np.array([0.5, 0.5]), np.array([1e-4, 1.0])
    assert psi == pytest.approx(np.sum((cur_share - ref_share) * np.log(cur_share / ref_share)))
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0


@pytest.mark.parametrize("reference_rows", [800, 20_000])
def test_a_seeded_shift_is_found_on_the_shifted_column_only(reference_rows: int) -> None:
    rng = np.random.default_rng(7)
    size = min(reference_rows, 1000)

    def players(n: int, shifted: bool) -> pd.DataFrame:
        return pd.DataFrame({
            "kd_ratio": rng.gamma(2.0, 0.5, n) + (1.0 if shifted else 0.0),
            "win_rate": rng.beta(5, 5, n),
            "country": rng.choice(["BR", "DE", "US", "VN"], n, p=[0.4, 0.2, 0.3, 0.1]),
            "platform": rng.choice(["pc", "console"], n),
        })  # fmt: skip

    report = dataset_drift(players(size, False), players(3000, True), reference_rows)
    drifted = {c["name"] for c in report["columns"] if c["drifted"]}
    assert drifted == {"kd_ratio"}, report["columns"]
    assert report["drift_share"] == 0.25 and report["dataset_drift"] is False
    assert dataset_drift(players(size, False), players(3000, True), reference_rows, drift_share=0.2)["dataset_drift"]


def test_data_quality_names_missing_values_unseen_categories_and_out_of_range() -> None:
    reference = pd.DataFrame({"amount": np.linspace(0, 100, 200), "country": ["DE", "US"] * 100})
    current = pd.DataFrame({"amount": [50.0, None, 250.0, -1.0], "country": ["DE", "XX", None, "YY"]})
    quality = {q["name"]: q for q in dataset_drift(reference, current, 200)["data_quality"]}
    assert quality["amount"]["missing_current"] == 0.25 and quality["amount"]["out_of_range"] == pytest.approx(2 / 3)
    assert quality["country"]["unseen_categories"] == ["XX", "YY"] and quality["country"][
        "unseen_share"
    ] == pytest.approx(2 / 3)


def test_a_window_is_read_in_the_users_words() -> None:
    assert parse_window("24h") == 86400 and parse_window("30m") == 1800
    with pytest.raises(MonitorError, match="e.g. 24h"):
        parse_window("yesterday")


def _tessera(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).parent / "tessera"), *args]
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=300, env=os.environ | {"COLUMNS": "200"}
    )


MONITORED = """
monitors:
  - endpoint: diabetes-api
    every: 1h
    window: 1h
    drift_share: 0.15
    on_drift: {run: retrain, params: {rows: 50}}
alerts:
  - webhook_env: TEST_ALERT_WEBHOOK
    events: [drift]
  - email: {host: 127.0.0.1, port: PORT, sender: tessera@example.com, to: [risk@example.com], starttls: false}
"""

RETRAIN = """
name: retrain
params:
  rows: {type: integer, default: 100}
nodes:
- {id: players, component: sample_dataset@1.0.0, params: {rows: "${params.rows}"}}
"""


def _check(root: Path) -> list[dict]:
    """What `tessera monitor check --force --json` prints (in this process: each CLI start costs seconds)."""
    from dataclasses import asdict

    from component_store.store import workspace_store
    from pipelines.monitors import check_monitors
    from tessera.workspace import load_workspace

    workspace = load_workspace(root)
    return [asdict(outcome) for outcome in check_monitors(workspace, workspace_store(workspace), force=True)]


@pytest.mark.slow
def test_drift_of_a_regressors_traffic_is_reported_acted_on_once_and_the_log_survives_kill_9(
    tmp_path: Path, webhook, smtp_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor

    folder = init_workspace(tmp_path / "ws")
    hook_url, hooks = webhook
    smtp_port, mails = smtp_server
    monkeypatch.setenv("TEST_ALERT_WEBHOOK", hook_url)
    config = folder.root / "tessera.yaml"
    config.write_text(config.read_text() + MONITORED.replace("PORT", str(smtp_port)))
    (folder.workflows_dir("default")).mkdir(parents=True)
    (folder.workflows_dir("default") / "retrain.yaml").write_text(RETRAIN)
    ws = tessera.open(folder.root)
    data = load_diabetes(as_frame=True).frame
    features = data.drop(columns="target")
    model = GradientBoostingRegressor(random_state=0).fit(features, data["target"])
    ws.models.register(model, "diabetes", features=features, metrics={"r2": 0.5}, alias="champion")
    ws.endpoints.deploy("diabetes-api", "diabetes@champion")
    log_folder = predictions_folder(folder.state_dir, "diabetes-api")
    try:
        sent = _tessera("demo", "traffic", "diabetes-api", "--rows", "600", "--batch", "50", cwd=folder.root)
        assert sent.returncode == 0, sent.stdout + sent.stderr
        logged = wait_for_rows(log_folder, 600)
        assert set(logged["model_version"]) == {"1"} and set(logged["role"]) == {"default"}
        assert {"input:bmi", "output:predictions"} <= set(logged.columns) and logged["request_id"].nunique() == 12

        stable = _tessera("monitor", "report", "diabetes-api", "--since", "1h", "--json", cwd=folder.root)
        assert stable.returncode == 0, stable.stdout + stable.stderr
        found = json.loads(stable.stdout)
        assert found["window"]["rows"] == 600 and found["reference_rows"] == len(features) == 442
        assert {c["statistic"] for c in found["columns"]} == {"ks", "z_test"}  # sex has two values
        assert not found["dataset_drift"] and found["drift_share"] <= 0.2, found["columns"]
        assert found["prediction"]["statistic"] == "ks" and not found["prediction"]["drifted"]
        assert [c["status"] for c in _check(folder.root)] == ["no_drift"] and not hooks and not mails

        for path in log_folder.glob(FILE_GLOB):
            path.unlink()
        shifted = _tessera(
            "demo", "traffic", "diabetes-api", "--rows", "600", "--batch", "50", "--shift", cwd=folder.root
        )
        assert "shifted: age, bmi" in shifted.stdout, shifted.stdout + shifted.stderr
        wait_for_rows(log_folder, 600)
        moved = monitor_report(load_workspace(folder.root), "diabetes-api", 3600)  # what --json prints
        drifted = {c["name"] for c in moved["columns"] if c["drifted"]}
        assert {"age", "bmi"} <= drifted and len(drifted) <= 3, moved["columns"]
        assert moved["prediction"]["drifted"], "older, heavier patients get other predictions"
        table = _tessera("monitor", "report", "diabetes-api", cwd=folder.root).stdout
        assert "bmi" in table and "yes" in table

        first, again = _check(folder.root), _check(folder.root)
        assert first[0]["status"] == "drift" and first[0]["new_episode"] and first[0]["retrain_run"]
        assert again[0]["status"] == "drift" and not again[0]["new_episode"], "one retrain per drift episode"
        assert [r.id for r in ws.runs(workflow="default/retrain")] == [first[0]["retrain_run"]]
        assert len(hooks) == 1 and hooks[0]["event"] == "drift" and "diabetes-api" in hooks[0]["text"]
        assert hooks[0]["retrain_run"] == first[0]["retrain_run"]
        assert len(mails) == 1 and "Subject: [tessera ws] diabetes-api: its data drifted" in mails[0]

        # labels arrive later: joined by the request id the answer carried, metrics beside the test set's
        endpoint = ws.endpoint("diabetes-api")
        answers = [endpoint.predict(features.iloc[i : i + 50]) for i in (0, 50)]
        labels = pd.concat(
            pd.DataFrame({"request_id": a.attrs["request_id"], "row": range(50), "progression": data["target"].iloc[i : i + 50].to_numpy()})
            for a, i in zip(answers, (0, 50), strict=True)
        )  # fmt: skip
        labels.to_csv(tmp_path / "labels.csv", index=False)
        wait_for_rows(log_folder, 700)
        scored = _tessera(
            "monitor",
            "labels",
            "diabetes-api",
            str(tmp_path / "labels.csv"),
            "--key",
            "request_id",
            "--json",
            cwd=folder.root,
        )
        assert scored.returncode == 0, scored.stdout + scored.stderr
        performance = json.loads(scored.stdout)
        assert performance["labelled_rows"] == 100 and performance["label"] == "progression"
        expected_rmse = float(np.sqrt(np.mean((model.predict(features.head(100)) - data["target"].head(100)) ** 2)))
        assert performance["windows"][0]["rmse"] == pytest.approx(expected_rmse, rel=1e-6)
        assert performance["test_metrics"] == {"r2": 0.5}

        # kill -9 while requests keep coming: every file a reader finds is whole
        rows = features.head(20)
        stop = threading.Event()

        def keep_asking() -> None:
            while not stop.is_set():
                try:
                    endpoint.predict(rows)
                except Exception:  # the server is gone
                    return

        caller = threading.Thread(target=keep_asking)
        caller.start()
        time.sleep(4)
        os.kill(endpoint.status().pid or 0, signal.SIGKILL)
        stop.set()
        caller.join(10)
        for path in log_folder.glob(FILE_GLOB):
            assert pq.read_table(path).num_rows > 0
    finally:
        ws.endpoint("diabetes-api").delete()


def test_labels_join_by_an_entity_key_and_only_predictions_made_before_the_label_count() -> None:
    from serving.monitoring import _join_labels, _task_metrics

    times = pd.to_datetime(["2026-01-01 10:00", "2026-01-01 11:00", "2026-01-02 09:00", "2026-01-02 09:30"], utc=True)
    logged = pd.DataFrame({
        "request_id": ["a", "b", "c", "d"], "row": 0, "model_version": "1", "time": times,
        "input:player_id": [7, 8, 9, 7], "output:predictions": ["1", "0", "1", "1"],
        "output:probabilities:0": [0.2, 0.9, 0.4, 0.3], "output:probabilities:1": [0.8, 0.1, 0.6, 0.7],
    })  # fmt: skip
    labels = pd.DataFrame({
        "player_id": [7, 8, 9], "is_cheater": [1, 0, 0],
        "time": ["2026-01-02 09:00", "2026-01-03", "2026-01-03"],  # player 7's second prediction came after its label
    })  # fmt: skip
    joined = _join_labels(logged, labels, "player_id", "is_cheater")
    assert sorted(joined["request_id"]) == ["a", "b", "c"]
    found = _task_metrics(joined)
    assert found["accuracy"] == pytest.approx(2 / 3) and found["roc_auc"] == pytest.approx(1.0)


def test_mlflow_settings_are_put_back_exactly_after_a_call_on_another_store(tmp_path: Path, monkeypatch) -> None:
    """The SDK and the monitors point MLflow at a workspace for one call; the caller's process keeps its own
    settings, unset ones unset (a registry left pinned once sent later tests' models to another store)."""
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_settings

    from serving.model_registry import tracking_at

    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mine.db'}")

    def settings() -> tuple:
        from mlflow.tracking import fluent

        return (
            mlflow.get_tracking_uri(), registry_settings._registry_uri, fluent._active_experiment_id,
            os.environ.get("MLFLOW_REGISTRY_URI"), os.environ.get("MLFLOW_EXPERIMENT_ID"),
        )  # fmt: skip

    before = settings()
    with tracking_at(f"sqlite:///{tmp_path / 'workspace.db'}"):
        assert mlflow.get_registry_uri().endswith("workspace.db")
        mlflow.set_experiment("notebooks")  # what ws.models.register does inside
    assert settings() == before
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'next.db'}")
    assert mlflow.get_registry_uri().endswith("next.db"), "the registry follows the tracking URI again"


@pytest.mark.slow
def test_a_full_disk_turns_logging_off_with_a_counter_while_requests_keep_succeeding(served_workspace) -> None:
    """The endpoint's process may not write files over a size limit (RLIMIT_FSIZE: the kernel refuses the
    write, as on a full disk): the first log file fails, logging turns off and says so on /metrics, and
    every request is still answered."""
    import socket

    import httpx

    from serving.endpoint_registry import EndpointRecord, EndpointRegistry
    from serving.endpoints import EndpointRequest
    from serving.tokens import new_token, token_hash

    workspace = served_workspace.workspace
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = new_token()
    request = EndpointRequest(name="full-disk", model="cancer/1", port=port, compiled=False)
    EndpointRegistry(workspace.state_dir / "endpoints.db").create(
        EndpointRecord("full-disk", "local", request, "starting", port=port, token_hash=token_hash(token))
    )
    limit = max(p.stat().st_size for p in workspace.state_dir.rglob("*") if p.is_file()) + 1_000_000
    script = (
        "import resource, signal; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit})); "
        f"from serving.model_server import main; main([{str(workspace.root)!r}, 'full-disk'])"
    )
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url, headers = f"http://127.0.0.1:{port}", {"Authorization": f"Bearer {token}"}
    base = np.asarray(served_workspace.rows * 100)[:8000]
    noise = np.random.default_rng(0).uniform(0.999, 1.001, base.shape)
    rows = (base * noise).tolist()  # 8,000 rows that do not compress: one logged batch is megabytes

    def metric(name: str) -> float:
        for line in httpx.get(f"{url}/metrics").text.splitlines():
            if line.startswith(name) and 'endpoint="full-disk"' in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/v2/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        answers = [
            httpx.post(f"{url}/v1/models/full-disk:predict", json={"instances": rows}, headers=headers, timeout=60)
            for _ in range(2)
        ]
        assert [a.status_code for a in answers] == [200, 200]
        deadline = time.monotonic() + 30
        while metric("tessera_prediction_log_disabled") != 1.0 and time.monotonic() < deadline:
            time.sleep(0.3)
        assert metric("tessera_prediction_log_disabled") == 1.0, "logging turned off, and /metrics says so"
        later = httpx.post(f"{url}/v1/models/full-disk:predict", json={"instances": rows[:10]}, headers=headers)
        assert later.status_code == 200 and len(later.json()["predictions"]) == 10
        # the batch whose write failed (one or both 8,000-row requests, as the writer grouped them) and the later 10 rows
        assert metric("tessera_prediction_log_dropped_rows_total") >= 8_010
        for path in predictions_folder(workspace.state_dir, "full-disk").glob(FILE_GLOB):
            assert pq.read_table(path).num_rows > 0, "no half-written file under a reader's name"
    finally:
        server.kill()
        server.wait(10)
        EndpointRegistry(workspace.state_dir / "endpoints.db").delete("full-disk")  # the session's other tests share it
