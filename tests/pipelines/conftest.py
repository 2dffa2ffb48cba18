"""Fixtures for running workflows: a store with the test-only components, and a runner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from component_store.publish import publish
from component_store.store import ComponentStore
from pipelines.local_runner import LocalRunner
from pipelines.workflow_io import parse_workflow
from tessera.workspace import KubeflowSettings, Workspace
from tests.pipelines import toy_components


@pytest.fixture
def toy_store(tmp_store: ComponentStore) -> ComponentStore:
    toys = (toy_components.sleepy, toy_components.flaky, toy_components.measure, toy_components.split_sizes)
    for component in toys:
        publish(component, tmp_store, tests_root=None)
    return tmp_store


@pytest.fixture
def runner(demo_workspace, toy_store) -> LocalRunner:
    return LocalRunner(demo_workspace, toy_store)


@pytest.fixture
def features_spec(demo_workspace):
    """The demo's data half (six fast nodes): what most runner tests run."""
    return parse_workflow(demo_workspace.find_workflow("player_features").read_text())


def states(record) -> dict[str, str]:
    """A run's node states by node (instance) id, in the run's order."""
    return {n.node_id: n.status for n in record.nodes}


def workflow(text: str):
    return parse_workflow(text)


KUBEFLOW_CONFIG = """name: {name}
tracking_uri: http://tessera-mlflow:5000
kubeflow:
  host: http://kubeflow.test/pipeline
  namespace: risk-team
"""


def kubeflow_workspace(workspace: Workspace, namespace: str = "risk-team") -> Workspace:
    """`workspace` with a `kubeflow:` section pointing at the API double's host."""
    settings = KubeflowSettings(host="http://kubeflow.test/pipeline", namespace=namespace)
    update = {"kubeflow": settings, "tracking_uri": "http://tessera-mlflow:5000"}
    return Workspace(workspace.root, workspace.config.model_copy(update=update))


def run_with_kfp_local(
    pipeline_yaml: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raise_on_error: bool = True, **params: Any
) -> Path:
    """Run compiled IR with kfp's own local engine (subprocesses in this venv); returns its run folder."""
    import os
    import sys

    from kfp import components, local

    tmp_path.mkdir(parents=True, exist_ok=True)
    ir_path = tmp_path / "pipeline.yaml"
    ir_path.write_text(pipeline_yaml)
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    root = tmp_path / "kfp-local"
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root), raise_on_error=raise_on_error)
    components.load_component_from_file(str(ir_path))(**params)
    [run_folder] = list(root.iterdir())
    return run_folder
