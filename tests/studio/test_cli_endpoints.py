"""`tessera endpoint …` end to end: deploy the registered model, call it, canary, promote, see which
endpoint serves which version in `models show`, print the KServe YAML, delete."""

from __future__ import annotations

import re

import httpx
import pytest
import yaml

from tests.serving.fixtures import ServedWorkspace
from tests.studio.test_cli import tessera

pytestmark = pytest.mark.slow


def test_endpoint_journey_from_the_cli(served_workspace: ServedWorkspace) -> None:
    root = served_workspace.workspace.root
    deployed = tessera("endpoint", "deploy", "cli-api", "--model", "cancer@champion", cwd=root)
    assert deployed.returncode == 0, deployed.stderr
    token = re.search(r"token \(shown once, keep it\): (\S+)", deployed.stdout)[1]  # type: ignore[index]
    url = re.search(r"(http://127\.0\.0\.1:\d+)", deployed.stdout)[1]  # type: ignore[index]
    try:
        answer = httpx.post(
            f"{url}/v1/models/cli-api:predict", json={"instances": served_workspace.rows[:3]},
            headers={"Authorization": f"Bearer {token}"},
        )  # fmt: skip
        assert answer.status_code == 200 and len(answer.json()["predictions"]) == 3

        canary = tessera("endpoint", "update", "cli-api", "--canary", "cancer/2", "--percent", "25", cwd=root)
        assert "75%  cancer/1" in canary.stdout and "25%  cancer/2" in canary.stdout
        assert "cli-api" in tessera("models", "show", "cancer", cwd=root).stdout
        promoted = tessera("endpoint", "promote", "cli-api", cwd=root)
        assert "100%  cancer/2" in promoted.stdout
        listed = tessera("endpoint", "list", cwd=root).stdout
        assert "cli-api" in listed and "cancer/2 100%" in listed
        shown = tessera("endpoint", "show", "cli-api", cwd=root).stdout
        assert "promoted" in shown and "deployed" in shown
        # how the version is computed, and why (checked on the fixture's 5-row input example)
        assert "cancer/2 served compiled (ONNX Runtime): equal to the native model on 5 rows" in " ".join(shown.split())

        bad = tessera("endpoint", "update", "cli-api", "--canary", "cancer/1", "--percent", "100", cwd=root)
        assert bad.returncode == 2 and "a canary needs a percent between 1 and 99" in bad.stderr
        typo = tessera("endpoint", "show", "cli-apj", cwd=root)
        assert typo.returncode == 2 and "did you mean 'cli-api'" in typo.stderr

        rotated = tessera("endpoint", "token", "cli-api", cwd=root)
        new_token = re.search(r"new token for cli-api \(shown once, keep it\): (\S+)", rotated.stdout)[1]  # type: ignore[index]
        for used, status in ((token, 401), (new_token, 200)):
            headers = {"Authorization": f"Bearer {used}"}
            assert httpx.get(f"{url}/v2/models/cli-api", headers=headers).status_code == status
    finally:
        assert tessera("endpoint", "delete", "cli-api", cwd=root).returncode == 0


def test_kserve_dry_run_prints_the_inference_service(served_workspace: ServedWorkspace) -> None:
    printed = tessera(
        "endpoint", "deploy", "risk-api", "-m", "cancer@champion", "--target", "kserve", "--dry-run", "--gpu", "1",
        cwd=served_workspace.workspace.root,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    service = yaml.safe_load(printed.stdout)
    assert service["kind"] == "InferenceService" and service["metadata"]["name"] == "risk-api"
    assert service["spec"]["predictor"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
