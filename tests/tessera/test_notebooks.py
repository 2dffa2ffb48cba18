"""The example notebooks, executed in order by a real Jupyter kernel against a fresh demo workspace:
run the demo, train and register a model, publish a component, query the endpoint and compare versions.

A notebook that raises fails the test with the cell and its error; the notebooks assert on what they show.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

import tessera
from studio.demo import copy_demo_projects
from studio.launch import EXAMPLE_NOTEBOOKS, copy_example_notebooks
from tessera.workspace import init_workspace

pytestmark = pytest.mark.slow


def test_the_example_notebooks_run_on_a_fresh_demo_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TESSERA_USER", "ana")
    folder = init_workspace(tmp_path / "ws")
    copy_demo_projects(folder)
    notebooks = copy_example_notebooks(folder)
    names = sorted(p.name for p in notebooks.glob("*.ipynb"))
    assert names == sorted(p.name for p in EXAMPLE_NOTEBOOKS.glob("*.ipynb")) and len(names) == 4
    monkeypatch.delenv("TESSERA_HOME", raising=False)  # the notebooks find the workspace from their folder
    try:
        for name in names:
            notebook = nbformat.read(notebooks / name, as_version=4)
            assert not any(cell.get("outputs") for cell in notebook.cells), f"{name} is committed with outputs"
            client = NotebookClient(
                notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(notebooks)}}
            )
            try:
                client.execute()
            except CellExecutionError as exc:
                pytest.fail(f"{name} failed:\n{str(exc)[-3000:]}")
        ws = tessera.open(folder.root)
        versions = ws.models.versions("cheater-detector")
        assert [v.version for v in versions] == ["2", "1"]
        assert versions[0].tags["tessera.source"] == "notebook" and "challenger" in versions[0].aliases
        assert ws.components.show("clip_amounts").version == "1.0.0"
        assert "model versions" in versions._repr_html_()
    finally:
        from serving.local_target import LocalProcessTarget

        if (folder.state_dir / "endpoints.db").exists():
            target = LocalProcessTarget(folder, drain_seconds=0.1)
            for endpoint in target.list():
                target.delete(endpoint.name)
