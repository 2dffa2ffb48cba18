"""Monitoring an endpoint: a window of its prediction log against the served version's reference.

The reference of a version comes from its training run: the raw training data's sample that the
inference pipeline carries (`tessera/inference_pipeline.json`, for endpoints that take raw rows), or
else the training features' validation sample (`tessera/validation_sample.parquet`). Only the columns
the model reads are compared (ids and the label are not).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from serving.drift import column_drift, dataset_drift
from serving.prediction_log import LogFolder, log_files, open_log_file, predictions_folder
from tessera.errors import TesseraError

if TYPE_CHECKING:
    from tessera.workspace import Workspace


class MonitorError(TesseraError):
    """Nothing to monitor yet (no logged predictions, no reference), or a window that cannot be read."""


@dataclass(frozen=True)
class Reference:
    sample: pd.DataFrame  # the columns the model reads
    rows: int  # how many rows the training data had


def parse_window(text: str) -> float:
    """`24h`, `30m`, `7d`, `90s` -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        value = float(text[:-1])
        unit = units[text[-1]]
    except (KeyError, ValueError, IndexError):
        raise MonitorError(f"'{text[:20]}' is not a window: write a number and s, m, h or d, e.g. 24h") from None
    if value <= 0:
        raise MonitorError(f"the window must be longer than zero, not '{text[:20]}'")
    return value * unit


def read_log(
    folder: LogFolder, since: float, until: float | None = None, columns: list[str] | None = None
) -> pd.DataFrame:
    """Logged rows with `since <= time < until` (Unix seconds), text as categories (a log repeats few values);
    partitions older than the window are not read, and `columns` limits what is read. `folder` is a
    local path or a URL (s3://…)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    first_day = time.strftime("%Y-%m-%d", time.gmtime(since))
    files = [p for p in log_files(folder) if p.rsplit("/", 2)[-2].removeprefix("date=") >= first_day]
    if not files:
        return pd.DataFrame()
    wanted = None if columns is None else list(dict.fromkeys(["time", *columns]))
    stamp = pa.timestamp("us", "UTC")
    start, end = pa.scalar(int(since * 1e6), stamp), None if until is None else pa.scalar(int(until * 1e6), stamp)
    tables = []
    for path in files:  # each file filtered as it is read: only the window is ever held twice
        with open_log_file(path) as handle:
            present = pq.read_schema(handle).names
            handle.seek(0)
            # The repeated text columns come back as dictionaries whichever way a file stored them, so every
            # file's table has one schema to concatenate.
            texts = [c for c in ("request_id", "endpoint", "model_version", "role") if c in present]
            table = pq.read_table(
                handle, columns=None if wanted is None else [c for c in wanted if c in present], read_dictionary=texts
            )
        times = table["time"].cast(stamp)
        keep = pc.greater_equal(times, start)
        if end is not None:
            keep = pc.and_(keep, pc.less(times, end))
        tables.append(table if pc.all(keep).as_py() else table.filter(keep))
    table = pa.concat_tables(tables, promote_options="permissive")
    del tables
    # Column by column, each Arrow buffer freed once converted: the peak stays near one copy of the window.
    return table.to_pandas(strings_to_categorical=True, split_blocks=True, self_destruct=True)


def logged_inputs(logged: pd.DataFrame) -> pd.DataFrame:
    """The logged `input:` columns under their own names (the same columns, not copied)."""
    return pd.DataFrame(
        {c.removeprefix("input:"): logged[c] for c in logged.columns if c.startswith("input:")}, copy=False
    )


def log_columns(folder: LogFolder) -> list[str]:
    """The columns of an endpoint's newest log file (what a report needs to read)."""
    import pyarrow.parquet as pq

    files = log_files(folder)
    if not files:
        return []
    with open_log_file(files[-1]) as handle:
        return list(pq.read_schema(handle).names)


def load_reference(tracking_uri: str, model_name: str, version: str) -> Reference:
    """The version's reference (see the module docstring)."""
    import mlflow

    from serving.model_registry import ModelRegistry

    info = ModelRegistry(tracking_uri).version(model_name, version)
    if info.run_id is None:
        raise MonitorError(f"{model_name}/{version} has no training run, so no reference to compare with")
    folder = Path(tempfile.mkdtemp(prefix="tessera-reference-"))
    client = mlflow.MlflowClient(tracking_uri)
    try:
        try:
            local = client.download_artifacts(info.run_id, "tessera", str(folder))
        except Exception:  # no tessera/ artifacts on the run: the error below says what is missing
            local = str(folder)
        pipeline_file, sample_file = Path(local) / "inference_pipeline.json", Path(local) / "validation_sample.parquet"
        if pipeline_file.exists():
            pipeline = json.loads(pipeline_file.read_text())
            reference = pipeline.get("reference")
            if reference:
                sample = pd.DataFrame(reference["sample"])
                columns = [c for c in pipeline["raw_columns"] if c in sample.columns]
                return Reference(sample[columns], int(reference["rows"]))
        if sample_file.exists():
            sample = pd.read_parquet(sample_file)
            rows = int(client.get_run(info.run_id).data.tags.get("tessera.training_rows", len(sample)))
            return Reference(sample, rows)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    raise MonitorError(
        f"{model_name}/{version} has no reference sample (registered before monitoring existed, or not by Tessera): "
        "register a version trained by a workflow or with ws.models.register"
    )


def endpoint_log_folder(workspace: Workspace, endpoint: str, target: str = "local") -> LogFolder:
    """Where an endpoint's prediction log is: the workspace's folder for local endpoints, and for KServe
    endpoints the log receiver's `prediction_log` root in tessera.yaml (when set)."""
    root = workspace.config.prediction_log
    if target == "kserve" and root:
        return f"{root.rstrip('/')}/{endpoint}"
    return predictions_folder(workspace.state_dir, endpoint)


def monitor_report(
    workspace: Workspace,
    endpoint: str,
    window_seconds: float,
    drift_share: float = 0.5,
    now: float | None = None,
    model: str = "",
) -> dict[str, Any]:
    """Drift of the endpoint's logged inputs and predictions over the last `window_seconds`, against the
    reference of the version it serves by default. An endpoint this workspace did not deploy (a pod's
    view of the cluster) is read from the `prediction_log` root, its version from the log, with `model`
    naming the registered model.

    Raises:
        MonitorError: no logged predictions in the window, or no reference for the version.
    """
    until = now if now is not None else time.time()
    since = until - window_seconds
    folder, model_name, version = _served_default(workspace, endpoint, model, since, until)
    needed = [
        c for c in log_columns(folder) if c.startswith("input:") or c in ("model_version", "role", "output:predictions")
    ]
    logged = read_log(folder, since, until, needed)
    if not logged.empty:
        logged = logged[(logged["model_version"] == version) & (logged["role"] == "default")]
    if logged.empty:
        raise MonitorError(
            f"endpoint '{endpoint}' logged no prediction of {model_name}/{version} in the window: send traffic "
            f"(`tessera demo traffic {endpoint}`) or widen it with --since"
        )
    reference = load_reference(workspace.tracking_uri(), model_name, version)
    current = logged_inputs(logged)
    report = {
        "endpoint": endpoint,
        "model_version": f"{model_name}/{version}",
        "window": {
            "from": pd.Timestamp(since, unit="s", tz="UTC").isoformat(),
            "to": pd.Timestamp(until, unit="s", tz="UTC").isoformat(),
            "rows": len(logged),
        },
        "reference_rows": reference.rows,
    }
    report |= dataset_drift(reference.sample, current, reference.rows, drift_share)
    report["prediction"] = _prediction_drift(workspace, model_name, version, reference, logged)
    return report


def _served_default(
    workspace: Workspace, endpoint: str, model: str, since: float, until: float
) -> tuple[LogFolder, str, str]:
    """(log folder, model, version) of what the endpoint serves by default."""
    from serving.targets import local_target

    registry = local_target(workspace).registry
    if registry.exists(endpoint):
        record = registry.get(endpoint)
        if not record.served:
            raise MonitorError(
                f"endpoint '{endpoint}' serves nothing yet: start it with `tessera endpoint start {endpoint}`"
            )
        route = record.served[0]
        return endpoint_log_folder(workspace, endpoint, record.target), route.model_name, route.version
    if not model:
        raise TesseraError(
            f"endpoint '{endpoint}' is not one this workspace deployed: name its registered model "
            "(model=NAME) to read its log from the prediction_log root"
        )
    folder = endpoint_log_folder(workspace, endpoint, "kserve")
    logged = read_log(folder, since, until, ["model_version", "role"])
    defaults = logged[logged["role"] == "default"] if not logged.empty else logged
    if defaults.empty:
        raise MonitorError(f"endpoint '{endpoint}' logged nothing in the window at {str(folder)[:120]}")
    return folder, model, str(defaults.sort_values("time")["model_version"].iloc[-1])


EPISODE_TAG = "tessera.drift_episode.{endpoint}"


def drift_episode(tracking_uri: str, model_name: str, endpoint: str, drifting: bool, now: float | None = None) -> bool:
    """Record whether `endpoint` drifts now; True only at the first drifting check of an episode.

    An episode starts at the first check that finds dataset drift and ends at the first that does not.
    It is kept as a tag on the registered model in MLflow, so `tessera up` here and a monitor's recurring
    run on Kubeflow (pods share no folder) agree: a drifting endpoint starts one retraining, not a storm.
    """
    from serving.model_registry import ModelRegistry

    client = ModelRegistry(tracking_uri).client
    tag = EPISODE_TAG.format(endpoint=endpoint)
    started = client.get_registered_model(model_name).tags.get(tag)
    if not drifting:
        if started is not None:
            client.delete_registered_model_tag(model_name, tag)
        return False
    if started is not None:
        return False
    stamp = pd.Timestamp(time.time() if now is None else now, unit="s", tz="UTC").isoformat()
    client.set_registered_model_tag(model_name, tag, stamp)
    return True


def markdown_report(report: dict[str, Any]) -> str:
    """A drift report as Markdown: verdict, the columns, predictions and data quality."""
    verdict = "**Dataset drift**" if report["dataset_drift"] else "No dataset drift"
    window = report["window"]
    lines = [
        f"# Drift of {report['endpoint']} ({report['model_version']})", "",
        f"{verdict}: {report['drift_share']:.0%} of columns drifted; {window['rows']} logged rows from "
        f"{window['from'][:16]} to {window['to'][:16]} against {report['reference_rows']} training rows.", "",
        "| column | kind | statistic | value | threshold | drifted |", "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for column in report["columns"]:
        lines.append(
            f"| {column['name']} | {column['kind']} | {column['statistic']} | {column['value']:.4g} | "
            f"{column['threshold']} | {'yes' if column['drifted'] else 'no'} |"
        )
    prediction = report.get("prediction")
    if prediction:
        moved = "drifted" if prediction["drifted"] else "did not drift"
        lines += ["", f"Predictions {moved} ({prediction['statistic']} {prediction['value']:.4g})."]
    return "\n".join(lines) + "\n"


def _prediction_drift(
    workspace: Workspace, model_name: str, version: str, reference: Reference, logged: pd.DataFrame
) -> dict[str, Any] | None:
    """The logged predictions against the version's own predictions on the reference sample."""
    from serving.model_registry import tracking_at
    from serving.served_model import load_served_model

    if "output:predictions" not in logged.columns:
        return None
    with tracking_at(workspace.tracking_uri()):
        served = load_served_model(model_name, version, compile_models=False)
    rows = reference.sample.astype(object).where(reference.sample.notna(), None)
    if served.takes_matrix:
        expected = served.predict(rows.to_numpy(dtype="float64"))["predictions"]
    else:
        expected = served.predict(rows.to_dict("records"))["predictions"]
    drift = column_drift("predictions", pd.Series(expected), logged["output:predictions"], reference.rows)
    return drift.as_dict()


def prune_log(workspace: Workspace, days: float, endpoint: str | None = None) -> tuple[int, int]:
    """Delete logged days older than `days` (and leftovers of writes cut short, and of writer processes
    killed with their endpoint: anything untouched for an hour); (files removed, bytes freed)."""
    root = workspace.state_dir / "predictions"
    horizon = time.strftime("%Y-%m-%d", time.gmtime(time.time() - days * 86400))
    removed = freed = 0
    for folder in sorted(root.glob(f"{endpoint or '*'}/date=*")):
        old = folder.name.removeprefix("date=") < horizon
        for path in folder.iterdir():
            if old or (path.name.startswith(".") and time.time() - path.stat().st_mtime > 3600):
                freed += path.stat().st_size
                path.unlink()
                removed += 1
        if old and not any(folder.iterdir()):
            folder.rmdir()
    for spool in sorted(root.glob(f"{endpoint or '*'}/.spool-*")):  # a writer process killed with its endpoint
        if time.time() - spool.stat().st_mtime > 3600:
            for path in spool.iterdir():
                freed += path.stat().st_size
                path.unlink()
                removed += 1
            spool.rmdir()
    return removed, freed


def demo_rows(
    workspace: Workspace, endpoint: str, rows: int, shift: bool, seed: int = 0
) -> tuple[pd.DataFrame, list[str]]:
    """Rows like the served version's training data (drawn from its reference sample); with `shift`, a
    population that moved: two numeric columns up by 1.5 standard deviations and one categorical
    column's rarest category made common. Returns the rows and the columns shifted."""
    import numpy as np

    from serving.drift import column_kind
    from serving.targets import local_target

    record = local_target(workspace).registry.get(endpoint)
    if not record.served:
        raise MonitorError(
            f"endpoint '{endpoint}' serves nothing yet: start it with `tessera endpoint start {endpoint}`"
        )
    route = record.served[0]
    reference = load_reference(workspace.tracking_uri(), route.model_name, route.version).sample
    rng = np.random.default_rng(seed)
    frame = reference.iloc[rng.integers(0, len(reference), rows)].reset_index(drop=True)
    changed: list[str] = []
    if not shift:
        return frame, changed
    kinds = {c: column_kind(reference[c]) for c in reference.columns}
    for column in [c for c, kind in kinds.items() if kind == "numeric"][:2]:
        frame[column] = frame[column] + 1.5 * float(reference[column].std())
        changed.append(column)
    for column in [c for c, kind in kinds.items() if kind == "categorical" and reference[c].nunique() > 2][:1]:
        rarest = reference[column].value_counts().index[-1]
        frame.loc[rng.random(rows) < 0.5, column] = rarest
        changed.append(column)
    return frame, changed


def read_labels(path: Path) -> pd.DataFrame:
    """Labels from a CSV or Parquet file."""
    if not path.exists():
        raise MonitorError(f"no labels file {path}")
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise MonitorError(f"{path.name}: labels are read from .csv or .parquet files")


def performance_report(
    workspace: Workspace, endpoint: str, labels: pd.DataFrame, key: str, label: str | None = None,
    every: str = "1d",
) -> dict[str, Any]:  # fmt: skip
    """The task's metrics on logged predictions whose labels arrived, per window, beside the version's test metrics.

    `key` joins labels to predictions: `request_id` (with `row` for a request of several rows), or an input
    column such as `player_id` (the latest label of each key; with a `time` column in the labels, only
    predictions made before it count).

    Raises:
        MonitorError: the key or label column is missing, or no logged prediction has a label.
    """
    from serving.model_registry import ModelRegistry
    from tessera.suggest import did_you_mean

    if key not in labels.columns:
        raise MonitorError(f"the labels have no column '{key}'{did_you_mean(key, list(labels.columns))}")
    others = [c for c in labels.columns if c not in (key, "row", "time")]
    if label is None:
        if len(others) != 1:
            raise MonitorError(f"say which column is the label with --label; the labels have: {', '.join(others)}")
        label = others[0]
    if label not in labels.columns:
        raise MonitorError(f"the labels have no column '{label}'{did_you_mean(label, others)}")
    logged = read_log(predictions_folder(workspace.state_dir, endpoint), 0)
    if logged.empty:
        raise MonitorError(f"endpoint '{endpoint}' has logged no predictions")
    joined = _join_labels(logged, labels, key, label)
    if joined.empty:
        raise MonitorError(f"none of the {len(labels)} labels matches a logged prediction of '{endpoint}' by {key}")
    windows = []
    for (start, version), group in joined.groupby(
        [pd.Grouper(key="time", freq=every.replace("m", "min")), "model_version"]
    ):
        windows.append({"from": start.isoformat(), "model_version": version, "rows": len(group)} | _task_metrics(group))
    record = _endpoint_record(workspace, endpoint)
    route = record.served[0] if record.served else None
    tested = ModelRegistry(workspace.tracking_uri()).version(route.model_name, route.version).metrics if route else {}
    return {"endpoint": endpoint, "key": key, "label": label, "labelled_rows": len(joined),
            "windows": windows, "test_metrics": tested}  # fmt: skip


def performance_file(workspace: Workspace, endpoint: str) -> Path:
    """Where the endpoint's latest performance report is kept (for the studio's Monitoring page)."""
    return workspace.state_dir / "performance" / f"{endpoint}.json"


def save_performance(workspace: Workspace, report: dict[str, Any]) -> None:
    from tessera.workspace import write_atomically

    path = performance_file(workspace, report["endpoint"])
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, json.dumps(report, indent=1, default=str))


def _endpoint_record(workspace: Workspace, endpoint: str) -> Any:
    from serving.targets import local_target

    return local_target(workspace).registry.get(endpoint)


def _join_labels(logged: pd.DataFrame, labels: pd.DataFrame, key: str, label: str) -> pd.DataFrame:
    truth = labels.rename(columns={label: "_label"})
    if key == "request_id":
        on = ["request_id", "row"] if "row" in truth.columns else ["request_id"]
        return logged.merge(truth[[*on, "_label"]], on=on, how="inner")
    column = f"input:{key}"
    if column not in logged.columns:
        known = [c.removeprefix("input:") for c in logged.columns if c.startswith("input:")]
        raise MonitorError(f"the endpoint's requests have no column '{key}'; they have: {', '.join(known[:12])}")
    truth = truth.rename(columns={key: column})
    if "time" in truth.columns:
        truth = truth.rename(columns={"time": "_label_time"})
        truth["_label_time"] = pd.to_datetime(truth["_label_time"], utc=True, format="mixed")
    truth[column] = truth[column].astype(str)
    latest = truth.drop_duplicates(subset=[column], keep="last")
    logged = logged.assign(**{column: logged[column].astype(str)})
    joined = logged.merge(latest, on=column, how="inner")
    if "_label_time" in joined.columns:
        joined = joined[joined["time"] <= joined["_label_time"]]
    return joined


def _task_metrics(group: pd.DataFrame) -> dict[str, float]:
    """Classification (probability columns logged): accuracy, F1 and ROC AUC; regression: RMSE, MAE, R²."""
    import numpy as np
    from sklearn import metrics

    truth = group["_label"]
    probability_columns = [c for c in group.columns if c.startswith("output:probabilities:")]
    if not probability_columns:
        predicted = group["output:predictions"].astype("float64")
        return {
            "rmse": float(np.sqrt(metrics.mean_squared_error(truth, predicted))),
            "mae": float(metrics.mean_absolute_error(truth, predicted)),
            "r2": float(metrics.r2_score(truth, predicted)) if len(group) > 1 else float("nan"),
        }
    classes = [c.removeprefix("output:probabilities:") for c in probability_columns]
    truth_text, predicted = truth.astype(str), group["output:predictions"].astype(str)
    found = {"accuracy": float(metrics.accuracy_score(truth_text, predicted))}
    found["f1"] = float(metrics.f1_score(truth_text, predicted, average="binary" if len(classes) == 2 else "macro",
                                         pos_label=classes[-1] if len(classes) == 2 else 1, labels=classes))  # fmt: skip
    if truth_text.nunique() > 1:
        scores = group[probability_columns].to_numpy()
        found["roc_auc"] = float(
            metrics.roc_auc_score((truth_text == classes[-1]).astype(int), scores[:, -1])
            if len(classes) == 2
            else metrics.roc_auc_score(truth_text, scores, multi_class="ovr", labels=classes)
        )
    return found
