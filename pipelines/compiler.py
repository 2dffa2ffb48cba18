"""Compile a workflow into a Kubeflow Pipelines v2 pipeline (IR YAML) with the real kfp compiler.

One task per node, named after the node; workflow params become pipeline params; node
resources, retries and caching become the task's KFP settings; every component comes
from its frozen, published YAML, so an old workflow compiles to the code it was built
with. The IR is exactly what Kubeflow runs.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import operator
from collections.abc import Mapping
from typing import Any

import yaml

from component_store.store import ComponentStore, parse_ref
from pipelines.conditions import Reference, comparisons, is_conjunction, references
from pipelines.loops import is_loop_item, loop_of, loop_source, loop_waits, unit_order
from pipelines.spark_resources import spark_resources
from pipelines.spec import Node, WorkflowSpec, param_reference
from pipelines.workflow_io import check_workflow
from tessera.errors import CompileError
from tessera.workspace import DEFAULT_RUNTIME_IMAGE

_PIPELINE_TYPES: dict[str, type] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "array": list,
    "object": dict,
}


def task_name(node_id: str) -> str:
    """The KFP task name of a node (Kubernetes names use '-' where ids may use '_')."""
    return node_id.replace("_", "-")


def compile_workflow(
    spec: WorkflowSpec,
    store: ComponentStore,
    *,
    runtime_image: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The KFP v2 IR of `spec` as a dict.

    Args:
        spec: the workflow; it is validated first.
        store: where `name@version` components are resolved.
        runtime_image: the container image every task runs in (the workspace's `runtime_image`);
            None keeps the image the component was published with.
        environment: variables every task gets (where to track, the run id, quick mode's
            `TESSERA_SAMPLE_ROWS`…); each task also gets `TESSERA_NODE`, `TESSERA_COMPONENT` and
            `TESSERA_WORKFLOW`, as the local runner gives them. None sets nothing.

    Raises:
        WorkflowInvalid: the workflow has problems.
        CompileError: kfp refused the pipeline.

    Example:
        >>> ir = compile_workflow(spec, ComponentStore(), runtime_image="registry/tessera:1.2")  # doctest: +SKIP
        >>> sorted(ir["root"]["dag"]["tasks"])  # doctest: +SKIP
    """
    check_workflow(spec, store)
    from google.protobuf import json_format
    from kfp import dsl

    pipeline_func = _pipeline_function(spec, store, environment)
    try:
        # Building the graph component runs kfp's pipeline-spec builder (the compiler proper);
        # we read its PipelineSpec directly rather than have kfp write and re-read YAML, which
        # is most of the time for large workflows.
        pipeline = dsl.pipeline(name=spec.name.replace("_", "-"), description=spec.description or None)(pipeline_func)
        ir: dict[str, Any] = json_format.MessageToDict(pipeline.pipeline_spec)
    except Exception as exc:  # kfp raises bare ValueError/TypeError for pipelines it refuses
        raise CompileError(f"kfp could not compile workflow '{spec.name}': {exc}") from exc
    if runtime_image:
        # Components written for Tessera's runtime run in the workspace's build of it; a component
        # imported with an image of its own (a container component, someone else's) keeps that image.
        for executor in ir.get("deploymentSpec", {}).get("executors", {}).values():
            if executor.get("container", {}).get("image") == DEFAULT_RUNTIME_IMAGE:
                executor["container"]["image"] = runtime_image
    return ir


def compile_to_yaml(
    spec: WorkflowSpec,
    store: ComponentStore,
    *,
    runtime_image: str | None = None,
    environment: Mapping[str, str] | None = None,
) -> str:
    """`compile_workflow` as YAML text, ready for `kfp.Client().create_run_from_pipeline_package`."""
    ir = compile_workflow(spec, store, runtime_image=runtime_image, environment=environment)
    return yaml.dump(ir, Dumper=yaml.CSafeDumper, sort_keys=True)


def _pipeline_function(spec: WorkflowSpec, store: ComponentStore, environment: Mapping[str, str] | None) -> Any:
    from kfp import components, dsl

    loaded: dict[str, Any] = {}
    for node in spec.nodes:
        if node.component not in loaded:
            name, version = parse_ref(node.component)
            loaded[node.component] = components.load_component_from_text(store.component_yaml(name, version or ""))
    order = spec.topological_order()
    guards = condition_paths(spec)
    members = loop_of(spec)
    # a loop's guard: the conditions of what it waits for (its steps' paths all start with it)
    loop_guards = {
        loop_id: max((guards[w] for w in waited), key=len, default=()) for loop_id, waited in loop_waits(spec).items()
    }

    def body(*args: Any, **kwargs: Any) -> None:
        # kfp calls the pipeline function with the parameters in signature order.
        pipeline_params = signature.bind(*args, **kwargs).arguments
        tasks: dict[str, Any] = {}

        def add_task(node: Node, item: Any = None) -> None:
            component = copy.copy(loaded[node.component])
            component.component_spec = copy.copy(component.component_spec)
            # The task takes its name from the component: name it after the node.
            component.component_spec.name = node.id
            arguments: dict[str, Any] = {}
            inputs = component.component_spec.inputs or {}
            for key, value in node.params.items():
                reference = param_reference(value)
                if reference:
                    arguments[key] = pipeline_params[reference]
                elif is_loop_item(value):
                    arguments[key] = item  # the dsl.ParallelFor's loop argument
                elif isinstance(value, int) and not isinstance(value, bool) and inputs[key].type == "Float":
                    arguments[key] = float(value)  # YAML's 60 for a float param; kfp refuses an int there
                else:
                    arguments[key] = value
            for input_name, binding in node.bindings().items():
                assert binding is not None  # validated
                produced = tasks[binding.node].outputs[binding.output]
                if binding.node in members and node.id not in members:  # a list input: every iteration's
                    produced = dsl.Collected(produced)
                arguments[input_name] = produced
            task = component(**arguments)
            task.set_display_name(node.id)
            for waited in node.after:
                task.after(tasks[waited])
            _apply_settings(task, node, _effective_params(component, node, spec))
            if environment is not None:
                node_environment = {
                    "TESSERA_NODE": node.id,
                    "TESSERA_COMPONENT": node.component,
                    "TESSERA_WORKFLOW": f"{spec.project}/{spec.name}",
                }
                for name, value in {**environment, **node_environment}.items():
                    task.set_env_variable(name, value)
            tasks[node.id] = task

        def add_loop(loop_id: str) -> None:
            loop = spec.loops[loop_id]
            reference = param_reference(loop.for_each) if isinstance(loop.for_each, str) else None
            source = loop_source(loop)
            if source is not None:
                items = tasks[source.node].outputs[source.output]
            else:
                items = pipeline_params[reference] if reference else loop.for_each
            inside = [node_id for node_id in order if members.get(node_id) == loop_id]
            with dsl.ParallelFor(items, parallelism=loop.parallelism or None) as item:
                # its steps' conditions start with the loop's own: dsl.If blocks inside the ParallelFor
                build(loop_guards[loop_id], inside, inside, item)

        def build(prefix: tuple[str, ...], scope: list[str], units: list[str], item: Any = None) -> None:
            """The nodes of `scope` and the loops among `units` guarded by exactly `prefix`, added in the
            order of `units` (a loop is one unit), then each further condition in a `dsl.If` of its own."""
            for unit in units:
                if unit in spec.loops:
                    if loop_guards[unit] == prefix:
                        add_loop(unit)
                elif guards[unit] == prefix and unit != spec.on_exit:
                    add_task(spec.node(unit), item)
            paths = [guards[i] for i in scope] + [loop_guards[u] for u in units if u in spec.loops]
            deeper = [path[len(prefix)] for path in paths if len(path) > len(prefix) and path[: len(prefix)] == prefix]
            for condition in dict.fromkeys(deeper):
                with contextlib.ExitStack() as blocks:
                    if is_conjunction(condition):  # `a and b`: nested blocks
                        for left, symbol, right in comparisons(condition):
                            blocks.enter_context(
                                dsl.If(_comparison(left, symbol, right, tasks, pipeline_params, condition))
                            )
                    else:  # `or`: a task evaluates the condition, the block reads its answer
                        answer = _condition_task(condition, spec, store, tasks, pipeline_params)
                        blocks.enter_context(dsl.If(answer.output == True))  # noqa: E712 (a KFP condition, not Python)
                    build((*prefix, condition), scope, units, item)

        outside = [node_id for node_id in order if node_id not in members]
        if spec.on_exit is None:
            build((), outside, unit_order(spec))
            return
        add_task(spec.node(spec.on_exit))  # KFP: the exit task is made first, then wraps everything else
        with dsl.ExitHandler(tasks[spec.on_exit], name="on-exit"):
            build((), outside, unit_order(spec))

    parameters = [
        inspect.Parameter(
            name,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            annotation=_PIPELINE_TYPES[param.type],
            default=param.default if param.default is not None else inspect.Parameter.empty,
        )
        for name, param in spec.params.items()
    ]
    signature = inspect.Signature(sorted(parameters, key=lambda p: p.default is not inspect.Parameter.empty))
    body.__signature__ = signature  # type: ignore[attr-defined]
    body.__name__ = spec.name
    body.__doc__ = spec.description
    return body


def condition_paths(spec: WorkflowSpec) -> dict[str, tuple[str, ...]]:
    """Each node's conditions, outermost first: those of the nodes it waits for, then its own `when`.
    KFP nests `dsl.If` blocks, so every upstream node's conditions must lead to this node's.

    Raises:
        CompileError: a node waits for nodes under unrelated conditions.
    """
    member, unit_waits = loop_of(spec), loop_waits(spec)
    paths: dict[str, tuple[str, ...]] = {}
    for node_id in spec.topological_order():
        node = spec.node(node_id)
        loop_id = member.get(node_id)  # a loop's steps wait for all the loop waits for (one dsl.ParallelFor)
        waits = node.upstream() | (unit_waits[loop_id] if loop_id else set())
        inherited = sorted((paths[u] for u in waits if u in paths), key=len)
        path = inherited[-1] if inherited else ()
        for other in inherited:
            if path[: len(other)] != other:
                raise CompileError(
                    f"node '{node_id}' waits for nodes under different conditions ({' / '.join(other) or 'none'} and "
                    f"{' / '.join(path)}): Kubeflow nests conditions, so give it the nodes of one branch only"
                )
        paths[node_id] = (*path, node.when) if node.when else path
    return paths


def _condition_task(
    condition: str, spec: WorkflowSpec, store: ComponentStore, tasks: dict[str, Any], pipeline_params: dict[str, Any]
) -> Any:
    from pipelines.condition_task import condition_component

    values: dict[str, Any] = {}
    types: dict[str, str] = {}
    for reference in references(condition):
        key = str(reference)
        if reference.source == "params":
            values[key], types[key] = pipeline_params[reference.name], spec.params[reference.name].type
        else:
            output = store.resolve(spec.node(reference.source).component).param_output(reference.name)
            assert output is not None  # validated
            values[key], types[key] = tasks[reference.source].outputs[reference.name], output.type
    task = condition_component(DEFAULT_RUNTIME_IMAGE)(condition=condition, values=values, types=types)
    task.set_display_name(f"when {condition}"[:60])
    task.set_caching_options(False)
    return task


def _comparison(
    left: Any, symbol: str, right: Any, tasks: dict[str, Any], pipeline_params: dict[str, Any], condition: str
) -> Any:
    """One comparison of a condition as KFP's ConditionOperation (a channel on the left)."""
    mirrored = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
    if not isinstance(left, Reference):
        if not isinstance(right, Reference):
            raise CompileError(f"condition '{condition}' compares two literals; compare an output or a parameter")
        left, right, symbol = right, left, mirrored[symbol]

    def value(side: Any) -> Any:
        if not isinstance(side, Reference):
            return side
        return pipeline_params[side.name] if side.source == "params" else tasks[side.source].outputs[side.name]

    operations = {
        "==": operator.eq,
        "!=": operator.ne,
        "<": operator.lt,
        "<=": operator.le,
        ">": operator.gt,
        ">=": operator.ge,
    }
    return operations[symbol](value(left), value(right))


def _effective_params(component: Any, node: Node, spec: WorkflowSpec) -> dict[str, Any]:
    """The node's parameter values as the task will see them by default (component and workflow defaults)."""
    values = {name: spec_input.default for name, spec_input in (component.component_spec.inputs or {}).items()}
    for key, value in node.params.items():
        reference = param_reference(value)
        values[key] = spec.params[reference].default if reference else value
    return values


def _apply_settings(task: Any, node: Node, params: dict[str, Any]) -> None:
    task.set_caching_options(node.cache)
    if node.retries:
        task.set_retry(num_retries=node.retries)
    resources = spark_resources(params, node.resources)
    if resources is None:
        return
    if resources.cpu:
        task.set_cpu_request(resources.cpu).set_cpu_limit(resources.cpu)
    if resources.memory:
        task.set_memory_request(resources.memory).set_memory_limit(resources.memory)
    if resources.gpu:
        task.set_accelerator_type(resources.gpu_type).set_accelerator_limit(resources.gpu)
