"""A studio workspace: the demo after one quick run (a registered model, a tuning study, a live endpoint)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tessera.workspace import Workspace, load_workspace

QUICK = {"players": 1500, "n_trials": 3}


@pytest.fixture(scope="session")
def studio_workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    from component_store.store import ComponentStore
    from pipelines.local_runner import LocalRunner
    from pipelines.workflow_io import parse_workflow
    from serving.local_target import LocalProcessTarget
    from studio.demo import DEMO_WORKSPACE

    root = tmp_path_factory.mktemp("studio") / "ws"
    shutil.copytree(DEMO_WORKSPACE, root, ignore=shutil.ignore_patterns(".tessera"))
    workspace = load_workspace(root)
    workspace.state_dir.mkdir(exist_ok=True)
    spec = parse_workflow(workspace.find_workflow("cheater_detection").read_text())
    record = LocalRunner(workspace, ComponentStore()).run(spec, QUICK)
    assert record.status == "succeeded", [(n.node_id, n.message) for n in record.nodes if n.message]
    yield workspace
    endpoints = LocalProcessTarget(workspace, drain_seconds=0.1)
    for endpoint in endpoints.list():
        endpoints.delete(endpoint.name)
