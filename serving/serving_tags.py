"""Keep each MLflow model version's `tessera.endpoints` tag equal to the endpoints serving it.

"Which services use this model?" is then one lookup in MLflow (the UI, `MlflowClient`, or
`tessera models show`), whoever asks. Called after every change an endpoint goes through.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from serving.endpoint_registry import SERVING_STATES, EndpointRecord

ENDPOINTS_TAG = "tessera.endpoints"


def serving_map(records: Iterable[EndpointRecord]) -> dict[tuple[str, str], list[str]]:
    """(model, version) -> sorted names of the endpoints that serve it now."""
    serving: dict[tuple[str, str], set[str]] = {}
    for record in records:
        if record.status not in SERVING_STATES:
            continue
        for route in record.served:
            serving.setdefault((route.model_name, route.version), set()).add(record.name)
    return {key: sorted(names) for key, names in serving.items()}


def sync_endpoint_tags(client: Any, records: list[EndpointRecord], also_models: Iterable[str] = ()) -> None:
    """Set or clear the tag on every version of the models these endpoints serve (and `also_models`).

    `client` is the `MlflowClient` of the workspace's store (never the process-wide default).
    """
    wanted = serving_map(records)
    models = {model for model, _ in wanted} | set(also_models)
    for model in sorted(models):
        for version in client.search_model_versions(f"name = '{model}'"):
            names = wanted.get((model, str(version.version)), [])
            text = ", ".join(names)
            current = (version.tags or {}).get(ENDPOINTS_TAG, "")
            if text and text != current:
                _set_tag(client, model, str(version.version), text)
            elif not text and current:
                client.delete_model_version_tag(model, str(version.version), ENDPOINTS_TAG)


def _set_tag(client: Any, model: str, version: str, text: str, attempts: int = 3) -> None:
    """Set the tag; the endpoint's server and the CLI may write it at the same moment (MLflow then raises)."""
    from mlflow.exceptions import MlflowException

    for attempt in range(attempts):
        try:
            client.set_model_version_tag(model, version, ENDPOINTS_TAG, text)
            return
        except MlflowException:
            written = (client.get_model_version(model, version).tags or {}).get(ENDPOINTS_TAG)
            if written == text:
                return
            if attempt == attempts - 1:
                raise
