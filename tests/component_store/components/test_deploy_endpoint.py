"""deploy_endpoint on real registered versions: a live endpoint the first time, moved (not refused) after."""

from __future__ import annotations

import stat

import httpx
import pytest
from kfp.dsl import Artifact

from component_store.components.deploy_endpoint import deploy_endpoint
from serving.local_target import LocalProcessTarget
from tessera.errors import TesseraError
from tests.serving.fixtures import ServedWorkspace

pytestmark = pytest.mark.slow


def registered(output, version: str) -> Artifact:
    artifact = output(f"registered-{version}", Artifact)
    artifact.metadata.update({"name": "cancer", "version": version, "aliases": []})
    return artifact


def answer_versions(endpoint: dict, token: str, rows: list[list[float]], times: int) -> set[str]:
    with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as client:
        return {
            client.post(f"{endpoint['url']}/v1/models/flow-api:predict", json={"instances": rows[:1]}).headers[
                "x-model-version"
            ]
            for _ in range(times)
        }


def test_deploy_endpoint_deploys_then_moves_and_adds_a_canary(
    served_workspace: ServedWorkspace, output, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = served_workspace.workspace
    monkeypatch.setenv("TESSERA_HOME", str(workspace.root))
    target = LocalProcessTarget(workspace, drain_seconds=0.2)
    try:
        first = output("endpoint-1", Artifact)
        deploy_endpoint(registered=registered(output, "2"), endpoint=first, endpoint_name="flow-api")
        assert first.metadata["created"] is True and first.metadata["status"] == "serving"
        assert first.metadata["routes"] == [{"model": "cancer", "version": "1", "percent": 100}], "champion is v1"
        assert target.registry.get("flow-api").request.model == "cancer@champion"
        token_file = workspace.state_dir / "endpoints" / "flow-api.token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        assert answer_versions(first.metadata, token, served_workspace.rows, 3) == {"1"}

        canary = output("endpoint-2", Artifact)
        deploy_endpoint(
            registered=registered(output, "2"), endpoint=canary, endpoint_name="flow-api", canary_percent=50
        )
        assert canary.metadata["created"] is False
        assert [(r["version"], r["percent"]) for r in canary.metadata["routes"]] == [("1", 50), ("2", 50)]
        assert answer_versions(first.metadata, token, served_workspace.rows, 60) == {"1", "2"}, "same token still valid"

        pinned = output("endpoint-3", Artifact)
        deploy_endpoint(registered=registered(output, "2"), endpoint=pinned, endpoint_name="flow-api", alias="")
        assert [(r["version"], r["percent"]) for r in pinned.metadata["routes"]] == [("2", 100)]
        assert token_file.read_text().strip() == token, "a move issues no new token"

        with pytest.raises(TesseraError, match="no alias 'champio'"):
            deploy_endpoint(registered=registered(output, "2"), endpoint=output("e4", Artifact),
                            endpoint_name="flow-api", alias="champio")  # fmt: skip
        assert target.registry.get("flow-api").request.model == "cancer/2", "a refused move changes nothing"
    finally:
        target.delete("flow-api")
