"""The team's own store, end to end in a fresh workspace, as an engineer and an approver use it from the CLI:
new → fill in → vet (a failing test blocks publishing) → publish (review) → approve (a non-approver refused)
→ a workflow uses it → runs locally (fork and spawn) and compiles for Kubeflow with its source embedded →
a new version in review is refused for Kubeflow → deprecate → the warning names the replacement."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from component_store.store import workspace_store
from pipelines.compiler import compile_workflow, task_name
from pipelines.kubeflow_runner import KubeflowRunner
from pipelines.local_runner import LocalRunner
from pipelines.runner import RunOptions
from pipelines.workflow_io import parse_workflow
from tessera.errors import WorkflowInvalid
from tessera.workspace import load_workspace
from tests.pipelines.conftest import kubeflow_workspace
from tests.pipelines.fake_kubeflow import FakeKubeflow, fake_client
from tests.studio.test_cli import tessera

pytestmark = pytest.mark.slow
LEAD, ANALYST = "lead@risk.example", "analyst@risk.example"
WORKFLOW = """name: spend
project: risk
description: double the spend  # the analyst's note
nodes:
- id: players
  component: sample_dataset@1.0.0
  params:
    rows: 300
- id: double
  component: {ref}  # the team's component
  params:
    factor: 2.0
  inputs:
    table: players.table
"""


def as_user(user: str) -> dict[str, str]:
    return {"TESSERA_USER": user}


@pytest.fixture
def fresh(tmp_path: Path) -> Path:
    assert tessera("init", "ws", cwd=tmp_path, env=as_user(LEAD)).returncode == 0
    return tmp_path / "ws"


def test_a_script_becomes_an_approved_component_that_a_workflow_runs(fresh: Path) -> None:
    created = tessera("components", "new", "double_spend", "--category", "transform", cwd=fresh, env=as_user(LEAD))
    assert created.returncode == 0, created.stderr
    source, test = fresh / "components" / "double_spend.py", fresh / "components" / "tests" / "test_double_spend.py"
    assert source.exists() and test.exists()
    assert yaml.safe_load((fresh / "tessera.yaml").read_text())["stores"][0]["approvers"] == [LEAD]

    # A test that fails blocks publishing, with the test's own output; nothing is frozen.
    test.write_text(test.read_text().replace("[2.0, 5.0]", "[2.0, 5.5]"))
    refused = tessera("components", "publish", "double_spend", cwd=fresh, env=as_user(LEAD))
    assert refused.returncode != 0 and "its tests fail" in refused.stderr and "5.5" in refused.stderr
    assert not (fresh / "components" / "published" / "index.json").exists()
    # An empty test proves nothing and is refused as such.
    test.write_text("def test_double_spend_runs():\n    pass\n")
    hollow = tessera("components", "vet", "double_spend", cwd=fresh, env=as_user(LEAD))
    assert hollow.returncode != 0 and "test_double_spend_runs in test_double_spend.py assert nothing" in hollow.stdout

    from component_store.scaffold import TEST_TEMPLATE

    test.write_text(TEST_TEMPLATE.format(name="double_spend"))
    published = tessera("components", "publish", "double_spend", "-m", "first cut", cwd=fresh, env=as_user(ANALYST))
    assert published.returncode == 0, published.stderr
    assert "trial run through KFP's executor: ok" in published.stdout
    assert "published double_spend@1.0.0 in review (first version)" in published.stdout
    listed = {c["name"]: c for c in json.loads(tessera("components", "list", "--json", cwd=fresh).stdout)}
    assert (listed["double_spend"]["store"], listed["double_spend"]["status"]) == ("team", "review")
    assert (listed["fill_missing"]["store"], listed["fill_missing"]["status"]) == ("built-in", "approved")

    refused = tessera("components", "approve", "double_spend@1.0.0", cwd=fresh, env=as_user(ANALYST))
    assert refused.returncode != 0 and f"{ANALYST} may not approve" in refused.stderr and LEAD in refused.stderr
    approved = tessera("components", "approve", "double_spend@1.0.0", cwd=fresh, env=as_user(LEAD))
    assert approved.returncode == 0 and f"approved double_spend@1.0.0 by {LEAD}" in approved.stdout

    # The analyst's workflow pins it; it runs here in both isolations and compiles with its source inside.
    path = fresh / "projects" / "risk" / "workflows" / "spend.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(WORKFLOW.format(ref="double_spend@1.0.0"))
    workspace = load_workspace(fresh)
    store = workspace_store(workspace)
    spec = parse_workflow(path.read_text())
    for isolation in ("fork", "spawn"):
        record = LocalRunner(workspace, store).run(spec, {}, RunOptions(isolation=isolation, no_cache=True))
        assert record.status == "succeeded", [(n.node_id, n.message) for n in record.nodes]
        before = pd.read_parquet(record.node("players").outputs["table"]["uri"])
        after = pd.read_parquet(record.node("double").outputs["result"]["uri"])
        assert after["payment_amount_30d"].tolist() == (before["payment_amount_30d"] * 2).tolist()
    ir = compile_workflow(spec, store, runtime_image="registry.example/tessera:1")
    task = ir["root"]["dag"]["tasks"][task_name("double")]
    container = ir["deploymentSpec"]["executors"][task["componentRef"]["name"].replace("comp-", "exec-")]["container"]
    assert "def double_spend(" in container["command"][-1] and container["image"] == "registry.example/tessera:1"

    # A new optional parameter is a minor version, in review: validate warns, Kubeflow refuses it.
    source.write_text(
        source.read_text()
        .replace("factor: float = 1.0", "factor: float = 1.0, note: str = ''")
        .replace(
            "        factor: what to multiply it by.", "        factor: what to multiply it by.\n        note: a note."
        )
    )
    minor = tessera("components", "publish", "double_spend", "-m", "a note", cwd=fresh, env=as_user(LEAD))
    assert "published double_spend@1.1.0 in review (minor change from 1.0.0: optional parameter 'note' added)" in (
        " ".join(minor.stdout.split())
    )
    path.write_text(WORKFLOW.format(ref="double_spend@1.1.0"))
    validated = tessera("workflow", "validate", "spend", cwd=fresh)
    assert validated.returncode == 0 and "double_spend@1.1.0 is in review, not approved yet" in validated.stdout
    kubeflow = kubeflow_workspace(workspace)
    with pytest.raises(WorkflowInvalid, match="a Kubeflow run takes approved versions only"):
        KubeflowRunner(kubeflow, workspace_store(workspace), fake_client(FakeKubeflow())).submit(
            parse_workflow(path.read_text()), {}
        )

    deprecated = tessera(
        "components", "deprecate", "double_spend@1.0.0", "--use", "double_spend@1.1.0", "--reason", "no notes",
        cwd=fresh, env=as_user(LEAD),
    )  # fmt: skip
    assert deprecated.returncode == 0, deprecated.stderr
    path.write_text(WORKFLOW.format(ref="double_spend@1.0.0"))
    warned = tessera("workflow", "validate", "spend", cwd=fresh).stdout
    assert "double_spend@1.0.0 is deprecated (no notes): use double_spend@1.1.0" in " ".join(warned.split())
    shown = json.loads(tessera("components", "show", "double_spend", "--json", cwd=fresh).stdout)
    history = {v["version"]: v for v in shown["version_history"]}
    assert history["1.0.0"]["status"] == "deprecated" and history["1.0.0"]["used_by"] == ["risk/spend (node double)"]
    assert history["1.1.0"]["author"] == LEAD and history["1.1.0"]["message"] == "a note"


def test_upgrade_moves_pins_to_approved_versions_and_refuses_a_breaking_major(fresh: Path) -> None:
    env = as_user(LEAD)
    assert tessera("components", "new", "double_spend", "-c", "transform", cwd=fresh, env=env).returncode == 0
    source = fresh / "components" / "double_spend.py"
    for change in (
        None,
        ("factor: float = 1.0", "factor: float = 1.0, note: str = ''"),
        ("factor: float", "factor: int"),
    ):
        if change:
            source.write_text(source.read_text().replace(*change).replace(
                "        factor: what to multiply it by.\n", "        factor: what to multiply it by.\n        note: a note.\n"
            ) if "note" in change[1] else source.read_text().replace(*change))  # fmt: skip
        published = tessera("components", "publish", "double_spend", cwd=fresh, env=env)
        assert published.returncode == 0, published.stderr
    assert "major change from 1.1.0: parameter 'factor' retyped number → integer" in " ".join(published.stdout.split())
    path = fresh / "projects" / "risk" / "workflows" / "spend.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(WORKFLOW.format(ref="double_spend@1.0.0"))
    assert "pins the latest approved version" in tessera("workflow", "upgrade", "spend", cwd=fresh).stdout, (
        "review ones are not offered"
    )
    for version in ("1.0.0", "1.1.0", "2.0.0"):
        assert tessera("components", "approve", f"double_spend@{version}", cwd=fresh, env=env).returncode == 0
    refused = tessera("workflow", "upgrade", "spend", cwd=fresh)
    assert refused.returncode != 0 and "breaks: node 'double' › params › factor" in refused.stdout
    assert "double_spend@1.0.0" in path.read_text(), "nothing written"
    compatible = tessera("workflow", "upgrade", "spend", "--to", "compatible", cwd=fresh)
    assert compatible.returncode == 0 and "optional parameter 'note' added" in compatible.stdout
    text = path.read_text()
    assert "component: double_spend@1.1.0  # the team's component" in text and "# the analyst's note" in text


def test_a_name_held_by_the_built_in_store_is_refused(fresh: Path) -> None:
    folder = fresh / "components"
    folder.mkdir()
    clash = tessera("components", "new", "fill_missing", "-c", "transform", cwd=fresh, env=as_user(LEAD))
    assert clash.returncode != 0 and "'fill_missing' is a component of the built-in store already" in clash.stderr
    from component_store.scaffold import COMPONENT_TEMPLATE, TEST_TEMPLATE

    (folder / "fill_missing.py").write_text(
        COMPONENT_TEMPLATE.format(name="fill_missing", category="transform", owner="x")
    )
    (folder / "tests").mkdir()
    (folder / "tests" / "test_fill_missing.py").write_text(TEST_TEMPLATE.format(name="fill_missing"))
    refused = tessera("components", "publish", "fill_missing", cwd=fresh, env=as_user(LEAD))
    assert refused.returncode != 0 and "'fill_missing' is a component of the built-in store" in refused.stderr
