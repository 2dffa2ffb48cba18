"""Alerts: tell people when an endpoint's data drifts, a run fails or an endpoint crashes.

Configured under `alerts:` in tessera.yaml (`tessera.workspace.AlertConfig`): a webhook whose URL is
in an environment variable (the JSON has Slack's `text`, plus the event's fields) and/or email over
SMTP with credentials from the environment. Sending never raises: an alert that cannot be delivered
is logged, and what raised it goes on.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tessera.workspace import AlertConfig, SmtpSettings, Workspace

log = logging.getLogger("tessera.alerts")


@dataclass(frozen=True)
class Alert:
    event: str  # drift, run_failed or endpoint_crashed
    title: str
    detail: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    at: float = field(default_factory=time.time)

    def payload(self, workspace: str) -> dict[str, Any]:
        """Slack-compatible (`text`), with the event's fields for other receivers."""
        text = f"*{self.title}*" + (f"\n{self.detail}" if self.detail else "")
        return {"text": text, "event": self.event, "workspace": workspace, "at": self.at, **self.fields}


def send_alert(workspace: Workspace, alert: Alert) -> list[str]:
    """Deliver `alert` to every configured receiver that takes its event; returns where it went."""
    delivered = []
    for config in workspace.config.alerts:
        if alert.event not in config.events:
            continue
        try:
            delivered += _deliver(config, alert, workspace.config.name)
        except Exception as exc:  # an unreachable receiver must not stop a run, a monitor or the supervisor
            log.warning("alert %s not delivered: %s", alert.event, exc)
    return delivered


def _deliver(config: AlertConfig, alert: Alert, workspace: str) -> list[str]:
    delivered = []
    if config.webhook_env:
        url = os.environ.get(config.webhook_env, "")
        if not url:
            log.warning("alert webhook: environment variable %s is not set", config.webhook_env)
        else:
            import httpx

            httpx.post(url, json=alert.payload(workspace), timeout=10).raise_for_status()
            delivered.append(f"webhook ${config.webhook_env}")
    if config.email is not None:
        _email(config.email, alert, workspace)
        delivered.append(f"email to {', '.join(config.email.to)}")
    return delivered


def _email(settings: SmtpSettings, alert: Alert, workspace: str) -> None:
    import smtplib
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = f"[tessera {workspace}] {alert.title}"
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    lines = [alert.detail, "", *(f"{key}: {value}" for key, value in alert.fields.items())]
    message.set_content("\n".join(lines).strip() + "\n")
    with smtplib.SMTP(settings.host, settings.port, timeout=10) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username_env:
            smtp.login(os.environ.get(settings.username_env, ""), os.environ.get(settings.password_env, ""))
        smtp.send_message(message)
