"""The endpoint tag survives a concurrent writer: the server and the CLI may set it at the same moment."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from mlflow.exceptions import MlflowException

from serving.serving_tags import ENDPOINTS_TAG, _set_tag


class RacingClient:
    """Fails the first `failures` writes as MLflow's SQL store does on a duplicate insert."""

    def __init__(self, failures: int, written_by_other: str | None) -> None:
        self.failures = failures
        self.written_by_other = written_by_other
        self.tags: dict[str, str] = {}

    def set_model_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        if self.failures:
            self.failures -= 1
            if self.written_by_other is not None:
                self.tags[key] = self.written_by_other
            raise MlflowException("UNIQUE constraint failed: model_version_tags")
        self.tags[key] = value

    def get_model_version(self, model: str, version: str) -> SimpleNamespace:
        return SimpleNamespace(tags=dict(self.tags))


def test_a_write_that_lost_to_the_same_value_is_done() -> None:
    client = RacingClient(failures=1, written_by_other="api")
    _set_tag(client, "cancer", "1", "api")
    assert client.tags[ENDPOINTS_TAG] == "api"


def test_a_write_that_lost_to_another_value_is_retried() -> None:
    client = RacingClient(failures=1, written_by_other="old")
    _set_tag(client, "cancer", "1", "api, canary")
    assert client.tags[ENDPOINTS_TAG] == "api, canary"


def test_a_store_that_keeps_refusing_raises() -> None:
    with pytest.raises(MlflowException):
        _set_tag(RacingClient(failures=5, written_by_other="old"), "cancer", "1", "api")
