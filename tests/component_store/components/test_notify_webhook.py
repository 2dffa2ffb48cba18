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
