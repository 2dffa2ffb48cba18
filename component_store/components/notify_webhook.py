from typing import Annotated

from kfp.dsl import Artifact, Output, PipelineTaskFinalStatus

from component_store.decorator import component


@component(
    name="notify_webhook", version="1.1.0", category="notify", tags=["alert", "webhook", "slack", "on_exit"],
    owner="platform",
)  # fmt: skip
def notify_webhook(
    sent: Output[Artifact],
    url_env: str = "TESSERA_WEBHOOK_URL",
    url: str = "",
    message: str = "",
    timeout_seconds: Annotated[float, (1.0, 60.0)] = 10.0,
    status: PipelineTaskFinalStatus = None,
):
    """Post the run's outcome to a webhook (JSON, Slack-compatible): made for a workflow's on_exit node.

    The body is {"text", "workflow", "run_id", "status", "message"}; `text` is what Slack shows. As a
    workflow's `on_exit` node it runs last whatever happened, and `status` is the run's (succeeded,
    failed or cancelled), told by Kubeflow (dsl.PipelineTaskFinalStatus) or the local runner; a failed
    run's error message is added.

    Args:
        sent: what was posted, and the webhook's HTTP status.
        url_env: the environment variable holding the webhook URL (a URL with a token stays out of the workflow file).
        url: the webhook URL itself, when it holds no secret; used when url_env is empty or unset.
        message: a line added to the text.
        timeout_seconds: how long to wait for the webhook.
        status: the run's final status, filled in for an exit node (not set by hand).
    """
    import json
    import os
    import urllib.parse
    import urllib.request

    target = (os.environ.get(url_env, "") if url_env else "") or url
    if not target:
        raise ValueError(
            f"notify_webhook: no URL: set the environment variable {url_env or 'named by url_env'}, or url"
        )
    if urllib.parse.urlparse(target).scheme not in ("http", "https"):
        raise ValueError("notify_webhook: the URL must be http:// or https://")
    error = ""
    if status is not None:
        words = {"SUCCEEDED": "succeeded", "FAILED": "failed", "CANCELED": "cancelled", "CANCELLED": "cancelled"}
        state = str(status.state or "")
        error = (status.error_message or "")[:300] if state != "SUCCEEDED" else ""
        outcome = words.get(state.upper(), state.lower() or "unknown")
    else:
        outcome = os.environ.get("TESSERA_RUN_STATUS") or "unknown"
    workflow = os.environ.get("TESSERA_WORKFLOW", "")
    run_id = os.environ.get("TESSERA_RUN_ID", "")
    text = (
        f"{workflow} run {run_id}: {outcome}" + (f" ({message})" if message else "") + (f": {error}" if error else "")
    )
    body = {"text": text, "workflow": workflow, "run_id": run_id, "status": outcome, "message": message}
    if error:
        body["error"] = error
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        target, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=timeout_seconds) as answer:  # noqa: S310
        code = int(answer.status)
    print(f"notify_webhook: posted '{text}' ({code})")
    with open(sent.path, "w") as handle:
        json.dump(body | {"http_status": code}, handle)
    sent.metadata.update({"status": outcome, "http_status": code})
