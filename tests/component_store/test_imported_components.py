"""Components written with plain `kfp` by someone else, imported into a team store as they are: a
lightweight Python component with packages to install, and container components (any image and
command). Parameters and artifacts come from their own YAML; the local runner runs what can run here
and refuses the rest before the run starts, naming the component; on Kubeflow they keep their image.
(No `from __future__ import annotations` here: kfp reads the annotations of these functions.)"""

import json
from pathlib import Path

import pandas as pd
import pytest
from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Output

from component_store.importer import spec_from_component_yaml
from component_store.store import workspace_store
from pipelines.compiler import compile_workflow, task_name
from pipelines.local_runner import LocalRunner
from pipelines.runner import RunOptions
from pipelines.workflow_io import parse_workflow
from tessera.errors import ComponentError, WorkflowInvalid
from tessera.workspace import load_workspace
from tests.studio.test_cli import tessera

pytestmark = pytest.mark.slow
LEAD = {"TESSERA_USER": "lead@risk.example"}


@dsl.component(base_image="python:3.11-slim", packages_to_install=["scipy", "tessera-no-such-package>=9"])
def zscore_outliers(table: Input[Dataset], flagged: Output[Dataset], column: str, threshold: float = 3.0):
    """Flag rows whose column is more than `threshold` standard deviations from the mean."""
    import pandas as pd

    frame = pd.read_parquet(table.path)
    frame["outlier"] = ((frame[column] - frame[column].mean()).abs() / frame[column].std()) > threshold
    frame.to_parquet(flagged.path, index=False)


@dsl.component(base_image="python:3.11-slim")
def row_count(table: Input[Dataset], counted: Output[Dataset]):
    """Count the rows of a table."""
    import pandas as pd

    pd.DataFrame({"rows": [len(pd.read_parquet(table.path))]}).to_parquet(counted.path, index=False)


@dsl.container_component
def copy_table(table: Input[Dataset], copied: Output[Dataset]):
    """Copy a table with a shell command (a stand-in for an R script or a JVM job)."""
    return dsl.ContainerSpec(
        image="alpine:3.20",
        command=["sh", "-c"],
        args=['mkdir -p "$(dirname "$1")" && cp "$0" "$1"', table.path, copied.path],
    )


@dsl.container_component
def r_scorecard(table: Input[Dataset], scored: Output[Dataset], cutoff: float = 0.5):
    """Score players with the fraud team's R scorecard."""
    return dsl.ContainerSpec(
        image="registry.example/fraud/scorecard:4.2", command=["Rscript", "/app/score.R"],
        args=["--in", table.path, "--out", scored.path, "--cutoff", cutoff],
    )  # fmt: skip


def compiled(component, folder: Path) -> Path:
    path = folder / f"{component.name.replace('-', '_')}.yaml"
    compiler.Compiler().compile(component, str(path))
    return path


def workflow(*nodes: str) -> str:
    body = "\n".join(nodes)
    return f"""name: imported
project: risk
nodes:
- id: players
  component: sample_dataset@1.0.0
  params:
    rows: 120
{body}
"""


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    assert tessera("init", "ws", cwd=tmp_path, env=LEAD).returncode == 0
    return tmp_path / "ws"


def test_specs_come_from_the_yaml_own_definitions(tmp_path: Path) -> None:
    lightweight = spec_from_component_yaml(compiled(zscore_outliers, tmp_path).read_text(), "transform")
    assert (lightweight.name, lightweight.kind) == ("zscore_outliers", "python")
    assert [(p.name, p.type, p.required, p.default) for p in lightweight.params] == [
        ("column", "string", True, None),
        ("threshold", "number", False, 3.0),
    ]
    assert [(a.name, a.type) for a in lightweight.inputs] == [("table", "Dataset")]
    assert lightweight.packages == ("scipy", "tessera-no-such-package>=9"), "kfp's own packages left out"
    container = spec_from_component_yaml(compiled(r_scorecard, tmp_path).read_text(), "model")
    assert container.kind == "container" and [o.name for o in container.outputs] == ["scored"]
    assert container.summary == "Score players with the fraud team's R scorecard."
    with pytest.raises(ComponentError, match="not a KFP v2 component YAML"):
        spec_from_component_yaml("name: x\n", "transform")
    with pytest.raises(ComponentError, match="unknown category 'transfrom' \\(did you mean 'transform'\\?\\)"):
        spec_from_component_yaml(compiled(row_count, tmp_path).read_text(), "transfrom")


def test_imported_components_run_here_when_they_can_and_keep_their_image_on_kubeflow(
    fresh: Path, tmp_path: Path
) -> None:
    for component, category in ((row_count, "evaluate"), (copy_table, "transform"), (r_scorecard, "model"),
                                (zscore_outliers, "transform")):  # fmt: skip
        imported = tessera(
            "components", "import", str(compiled(component, tmp_path)), "--category", category, "-m", "from the fraud team",
            cwd=fresh, env=LEAD,
        )  # fmt: skip
        assert imported.returncode == 0, imported.stderr
        assert f"imported {component.name.replace('-', '_')}@1.0.0 into team, in review" in " ".join(
            imported.stdout.split()
        )
    listed = {c["name"]: c for c in json.loads(tessera("components", "list", "--json", cwd=fresh).stdout)}
    assert listed["r_scorecard"]["kind"] == "container" and listed["r_scorecard"]["status"] == "review"
    again = tessera("components", "import", str(tmp_path / "row_count.yaml"), "-c", "evaluate", cwd=fresh, env=LEAD)
    assert "unchanged row_count@1.0.0" in again.stdout

    workspace = load_workspace(fresh)
    store = workspace_store(workspace)
    runnable = parse_workflow(
        workflow(
            "- id: count\n  component: row_count@1.0.0\n  inputs:\n    table: players.table",
            "- id: copy\n  component: copy_table@1.0.0\n  inputs:\n    table: players.table",
        )
    )
    record = LocalRunner(workspace, store).run(runnable, {}, RunOptions(no_cache=True))
    assert record.status == "succeeded", [(n.node_id, n.message) for n in record.nodes]
    assert pd.read_parquet(record.node("count").outputs["counted"]["uri"])["rows"].tolist() == [120]
    copied = pd.read_parquet(record.node("copy").outputs["copied"]["uri"])
    assert copied.equals(pd.read_parquet(record.node("players").outputs["table"]["uri"]))

    needs_kubeflow = parse_workflow(
        workflow(
            "- id: score\n  component: r_scorecard@1.0.0\n  inputs:\n    table: players.table",
            "- id: flag\n  component: zscore_outliers@1.0.0\n  params:\n    column: win_rate\n  inputs:\n    table: players.table",
        )
    )
    with pytest.raises(WorkflowInvalid) as refused:
        LocalRunner(workspace, store).run(needs_kubeflow, {}, RunOptions())
    message = str(refused.value)
    assert (
        "r_scorecard@1.0.0 is a container component whose command 'Rscript' is not on this machine: it needs Kubeflow"
        in message
    )
    assert "zscore_outliers@1.0.0 needs tessera-no-such-package>=9, not installed here" in message
    assert "pip install 'tessera-no-such-package>=9'" in message and "scipy" not in message.split("needs")[-1]
    assert len(LocalRunner(workspace, store).runs.recent()) == 1, "refused before a run was recorded"

    ir = compile_workflow(needs_kubeflow, store, runtime_image="registry.example/tessera:1")
    executors = ir["deploymentSpec"]["executors"]

    def container(node: str) -> dict:
        task = ir["root"]["dag"]["tasks"][task_name(node)]
        return executors[task["componentRef"]["name"].replace("comp-", "exec-")]["container"]

    assert container("score")["image"] == "registry.example/fraud/scorecard:4.2", "a container keeps its own image"
    assert container("score")["command"] == ["Rscript", "/app/score.R"]
    assert container("flag")["image"] == "python:3.11-slim"
    assert "tessera-no-such-package>=9" in " ".join(container("flag")["command"]), "KFP installs the packages"
    assert container("players")["image"] == "registry.example/tessera:1"
