"""notify_webhook against a local HTTP receiver: the body Slack reads, the URL from the environment."""

from __future__ import annotations

import pytest
from kfp.dsl import Artifact

from component_store.components.notify_webhook import notify_webhook


def test_notify_webhook_posts_the_run_outcome(webhook, output, monkeypatch) -> None:
    url, received = webhook
    monkeypatch.setenv("TESSERA_WEBHOOK_URL", url)
    monkeypatch.setenv("TESSERA_RUN_STATUS", "failed")
    monkeypatch.setenv("TESSERA_WORKFLOW", "risk/cheater_detection")
    monkeypatch.setenv("TESSERA_RUN_ID", "20261204-1")
    sent = output("sent", Artifact)
    notify_webhook(sent=sent, message="nightly retrain")
    assert received == [
        {"text": "risk/cheater_detection run 20261204-1: failed (nightly retrain)", "workflow": "risk/cheater_detection",
         "run_id": "20261204-1", "status": "failed", "message": "nightly retrain"}
    ]  # fmt: skip
    assert sent.metadata == {"status": "failed", "http_status": 200}
    monkeypatch.delenv("TESSERA_WEBHOOK_URL")
    with pytest.raises(ValueError, match="no URL: set the environment variable TESSERA_WEBHOOK_URL"):
        notify_webhook(sent=output("again", Artifact))
    with pytest.raises(ValueError, match="must be http"):
        notify_webhook(sent=output("file", Artifact), url="file:///etc/passwd")


def test_notify_webhook_reads_the_final_status_kubeflow_gives_an_exit_task(webhook, output, monkeypatch) -> None:
    from kfp.dsl import PipelineTaskFinalStatus

    url, received = webhook
    monkeypatch.setenv("TESSERA_RUN_STATUS", "succeeded")  # what the 1.0.0 read; the status wins
    status = PipelineTaskFinalStatus(
        state="FAILED", pipeline_job_resource_name="runs/7", pipeline_task_name="exit-handler-1",
        error_code=9, error_message="train: exit code 1",
    )  # fmt: skip
    notify_webhook(sent=output("sent", Artifact), url_env="", url=url, status=status)
    assert received[-1]["status"] == "failed" and received[-1]["error"] == "train: exit code 1"
    assert received[-1]["text"].endswith(": failed: train: exit code 1")
    cancelled = PipelineTaskFinalStatus("CANCELED", "runs/8", "exit-handler-1", None, None)
    notify_webhook(sent=output("again", Artifact), url_env="", url=url, status=cancelled)
    assert received[-1]["status"] == "cancelled" and "error" not in received[-1]
