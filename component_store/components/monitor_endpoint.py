from typing import Annotated, NamedTuple

from kfp.dsl import Markdown, Metrics, Output

from component_store.decorator import component


@component(
    name="monitor_endpoint", version="1.0.0", category="monitor", tags=["drift", "monitoring", "retrain", "evidently"],
    owner="platform",
)  # fmt: skip
def monitor_endpoint(
    report: Output[Markdown],
    metrics: Output[Metrics],
    endpoint: str,
    since: str = "24h",
    drift_share: Annotated[float, (0.01, 1.0)] = 0.5,
    model_name: str = "",
) -> NamedTuple("MonitorOutputs", [("drift", bool), ("new_episode", bool), ("drift_share", float)]):  # type: ignore[valid-type]  # noqa: UP014  (the form KFP reads)
    """Check an endpoint's logged traffic for drift against the served version's training data.

    Reads the last `since` of the endpoint's prediction log (this workspace's, or on Kubeflow the
    log receiver's root in object storage), compares every input column and the predictions with the
    version's reference sample (Evidently's default statistics), and answers `drift` (the dataset
    drifted) and `new_episode` (true only at the first drifting check until the drift ends). Steps
    after it run `when: monitor.new_episode == true`, so a drifting endpoint is retrained once.

    Args:
        report: the drift table as Markdown (column, statistic, value, threshold, drifted).
        metrics: drift_share, drifted_columns, rows and dataset_drift (1 or 0).
        endpoint: the endpoint's name, e.g. cheater-api.
        since: the window of logged traffic, e.g. 24h, 90m or 7d.
        drift_share: the dataset drifts when at least this share of columns drift.
        model_name: the endpoint's registered model; needed only where the endpoint was deployed from elsewhere (a Kubeflow task).
    """
    from serving.monitoring import (
        MonitorError,
        drift_episode,
        markdown_report,
        monitor_report,
        parse_window,
    )
    from tessera.workspace import task_workspace

    workspace = task_workspace()
    try:
        found = monitor_report(workspace, endpoint, parse_window(since), drift_share, model=model_name)
    except MonitorError as exc:  # no traffic yet is an answer, not a failure
        print(f"monitor_endpoint: {exc}")
        with open(report.path, "w") as handle:
            handle.write(f"# Drift of {endpoint}\n\nNothing to compare: {exc}\n")
        metrics.log_metric("rows", 0)
        return (False, False, 0.0)
    with open(report.path, "w") as handle:
        handle.write(markdown_report(found))
    drifted = [column["name"] for column in found["columns"] if column["drifted"]]
    share = float(found["drift_share"])
    metrics.log_metric("drift_share", share)
    metrics.log_metric("drifted_columns", len(drifted))
    metrics.log_metric("rows", found["window"]["rows"])
    metrics.log_metric("dataset_drift", 1 if found["dataset_drift"] else 0)
    model = found["model_version"].rsplit("/", 1)[0]
    new_episode = drift_episode(workspace.tracking_uri(), model, endpoint, bool(found["dataset_drift"]))
    print(
        f"monitor_endpoint: {endpoint} {found['model_version']}: {len(drifted)} of {len(found['columns'])} columns "
        f"drifted ({', '.join(drifted[:8]) or 'none'}); dataset drift {found['dataset_drift']}, new episode {new_episode}"
    )
    return (bool(found["dataset_drift"]), new_episode, share)
