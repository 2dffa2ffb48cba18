"""Compile a generated 200-node workflow: Tessera vs hand-wired kfp, in one run.

    .venv/bin/python benchmarks/compile_workflow.py [--nodes 200] [--repeat 5]

Tessera's time covers what `tessera workflow compile` does: parse the YAML, validate every
node against the store, load the frozen components and run the kfp compiler. The peer is
the same 200 tasks written directly against kfp (load the component YAMLs, chain the tasks,
compile) with no validation, which is what a hand-wired Kubeflow pipeline costs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from component_store.store import ComponentStore
from pipelines.compiler import compile_to_yaml
from pipelines.spec import Node, WorkflowSpec
from pipelines.workflow_io import parse_workflow, workflow_to_yaml


def generated_workflow(nodes: int) -> WorkflowSpec:
    """A chain: one data source, then alternating column selections and missing-value fills."""
    chain = [Node(id="n000", component="sample_dataset@1.0.0", params={"dataset": "player_risk"})]
    for i in range(1, nodes):
        previous = chain[-1]
        output = {"sample_dataset": "table", "select_columns": "selected", "fill_missing": "filled"}[
            previous.component.split("@")[0]
        ]
        if i % 2:
            node = Node(
                id=f"n{i:03d}",
                component="select_columns@1.0.0",
                params={"columns": ["is_cheater"], "drop": True},
                inputs={"table": f"{previous.id}.{output}"},
            )
        else:
            node = Node(id=f"n{i:03d}", component="fill_missing@1.0.0", inputs={"table": f"{previous.id}.{output}"})
        chain.append(node)
    return WorkflowSpec(name="generated", nodes=tuple(chain))


def tessera_compile(yaml_text: str, store: ComponentStore) -> str:
    return compile_to_yaml(parse_workflow(yaml_text), ComponentStore(store.root))


def plain_kfp_compile(nodes: int, store: ComponentStore) -> str:
    from kfp import compiler, components, dsl

    source = components.load_component_from_text(store.component_yaml("sample_dataset", "1.0.0"))
    select = components.load_component_from_text(store.component_yaml("select_columns", "1.0.0"))
    fill = components.load_component_from_text(store.component_yaml("fill_missing", "1.0.0"))

    @dsl.pipeline(name="generated")
    def generated():  # no annotations: kfp reads them as pipeline outputs
        task = source(dataset="player_risk")
        data = task.outputs["table"]
        for i in range(1, nodes):
            if i % 2:
                task = select(table=data, columns=["is_cheater"], drop=True)
                data = task.outputs["selected"]
            else:
                task = fill(table=data)
                data = task.outputs["filled"]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "p.yaml"
        compiler.Compiler().compile(generated, str(path))
        return path.read_text()


def timed(function, *args) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    store = ComponentStore()
    yaml_text = workflow_to_yaml(generated_workflow(args.nodes))
    tessera_compile(yaml_text, store)  # warm imports for both contenders
    plain_kfp_compile(args.nodes, store)
    ours = [timed(tessera_compile, yaml_text, store) for _ in range(args.repeat)]
    peer = [timed(plain_kfp_compile, args.nodes, store) for _ in range(args.repeat)]
    ours_median, peer_median = statistics.median(ours), statistics.median(peer)
    print(f"{args.nodes}-node workflow, median of {args.repeat} runs")
    print("| contender | median s | min s | max s |")
    print("|---|---|---|---|")
    print(f"| tessera: parse + validate + compile | {ours_median:.3f} | {min(ours):.3f} | {max(ours):.3f} |")
    print(f"| hand-wired kfp: compile only | {peer_median:.3f} | {min(peer):.3f} | {max(peer):.3f} |")
    print(
        f"ratio tessera / kfp: {ours_median / peer_median:.2f}x   goal: tessera <= 2 s -> {'met' if ours_median <= 2 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
