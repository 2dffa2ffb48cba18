"""The compiled IR, loaded back with kfp, carries the workflow's tasks, edges, params and resources."""

import pytest
import yaml
from kfp import components

from pipelines.compiler import compile_to_yaml, compile_workflow
from pipelines.spec import Resources
from pipelines.workflow_io import load_workflow, parse_workflow
from tessera.errors import WorkflowInvalid


@pytest.fixture
def demo(demo_workspace, store):
    return load_workflow(next(demo_workspace.workflow_files()), store)


def test_ir_loads_back_with_kfp(demo, store):
    text = compile_to_yaml(demo, store)
    pipeline = components.load_component_from_text(text)
    assert pipeline.name == "cheater-detection"
    assert set(pipeline.component_spec.inputs) == {"players", "test_size", "n_trials", "search_space", "model_name"}
    assert pipeline.component_spec.inputs["test_size"].default == 0.2


def test_one_task_per_node_with_edges(demo, store):
    ir = compile_workflow(demo, store)
    tasks = dict(ir["root"]["dag"]["tasks"])
    guarded = ir["components"]["comp-condition-1"]["dag"]["tasks"]  # the nodes under `when: gate.decision == …`
    assert tasks.pop("condition-1")["triggerPolicy"]["condition"].endswith("== 'accept'")
    assert set(guarded) == {"register", "serve"}
    tasks |= guarded
    assert set(tasks) == set(demo.node_ids())
    for source, output, target, input_name in demo.edges():
        artifact = tasks[target]["inputs"]["artifacts"][input_name]
        if target in guarded and source not in guarded:
            assert "componentInputArtifact" in artifact, "KFP hands an outside output into the dsl.If group"
            continue
        assert artifact["taskOutputArtifact"] == {"outputArtifactKey": output, "producerTask": source}
        assert source in tasks[target]["dependentTasks"]
    assert tasks["split"]["taskInfo"]["name"] == "split"


def test_params_become_pipeline_params(demo, store):
    tasks = compile_workflow(demo, store)["root"]["dag"]["tasks"]
    split = tasks["split"]["inputs"]["parameters"]
    assert split["test_size"] == {"componentInputParameter": "test_size"}
    assert split["label"] == {"runtimeValue": {"constant": "is_cheater"}}


def test_resources_retries_caching_and_image(demo, store):
    spec = demo.with_node(
        demo.node("split").model_copy(
            update={"resources": Resources(cpu="2", memory="4Gi", gpu=1), "retries": 3, "cache": False}
        )
    )
    ir = compile_workflow(spec, store, runtime_image="registry.example/tessera-runtime@sha256:abc")
    task = ir["root"]["dag"]["tasks"]["split"]
    assert task["retryPolicy"]["maxRetryCount"] == 3
    assert task["cachingOptions"] == {}  # kfp omits enableCache when caching is off
    assert ir["root"]["dag"]["tasks"]["players"]["cachingOptions"] == {"enableCache": True}
    container = ir["deploymentSpec"]["executors"][task["componentRef"]["name"].replace("comp-", "exec-")]["container"]
    assert container["image"] == "registry.example/tessera-runtime@sha256:abc"
    resources = container["resources"]
    assert resources["resourceCpuLimit"] == "2" and resources["resourceMemoryLimit"] == "4Gi"
    assert resources["accelerator"]["resourceCount"] == "1"
    assert resources["accelerator"]["resourceType"] == "nvidia.com/gpu"


def test_component_code_comes_from_the_frozen_yaml(demo, store):
    ir = compile_workflow(demo, store)
    frozen = yaml.safe_load(store.component_yaml("train_test_split", "1.1.0"))
    frozen_command = frozen["deploymentSpec"]["executors"]["exec-train-test-split"]["container"]["command"]
    compiled = ir["deploymentSpec"]["executors"]["exec-split"]["container"]["command"]
    assert compiled == frozen_command


def test_invalid_workflow_is_not_compiled(store):
    spec = parse_workflow("name: x\nnodes:\n- {id: a, component: nope@1.0.0}\n")
    with pytest.raises(WorkflowInvalid, match="No component 'nope'"):
        compile_workflow(spec, store)


def test_node_ids_with_underscores_compile(store):
    spec = parse_workflow(
        "name: x\nnodes:\n- {id: raw_players, component: sample_dataset@1.0.0}\n"
        "- {id: first_cut, component: select_columns@1.0.0, params: {columns: [a]}, inputs: {table: raw_players.table}}\n"
    )
    tasks = compile_workflow(spec, store)["root"]["dag"]["tasks"]
    assert set(tasks) == {"raw-players", "first-cut"}
    assert tasks["first-cut"]["taskInfo"]["name"] == "first_cut"
