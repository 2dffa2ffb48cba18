"""The demo workflow, cold and cached: Tessera's local runner vs kfp.local vs one plain script.

    .venv/bin/python benchmarks/local_runner.py [--repeat 3]

All contenders run the same six steps of `examples/demo` (5,000 players) on this machine:

- tessera (CLI): `tessera run player_features` in a fresh workspace (empty cache), as a user types it;
- tessera (CLI, spawn): the same with `--isolation spawn` (a fresh interpreter per node, like a pod);
- kfp.local: the compiled IR run by kfp's `SubprocessRunner` (a fresh interpreter per task, sequential);
- plain script: the six component functions called in turn in one Python process (the floor;
  its per-step times are measured after its imports, so they are compute only);
- tessera cached rerun: the same CLI command again, every node a cache hit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ENV = os.environ | {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "COLUMNS": "120"}


def fresh_workspace(root: Path) -> Path:
    shutil.rmtree(root, ignore_errors=True)
    shutil.copytree(REPO / "examples" / "demo", root, ignore=shutil.ignore_patterns(".tessera"))
    return root


def timed_command(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)
    return time.perf_counter() - start


def tessera_cli(tmp: Path, *extra: str) -> tuple[float, float]:
    workspace = fresh_workspace(tmp / "ws")
    cold = timed_command([str(BIN / "tessera"), "run", "player_features", *extra], workspace)
    cached = timed_command([str(BIN / "tessera"), "run", "player_features", *extra], workspace)
    return cold, cached


KFP_LOCAL = textwrap.dedent(
    """
    import sys
    from kfp import components, local
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=sys.argv[2])
    components.load_component_from_file(sys.argv[1])()
    """
)

PLAIN = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from kfp.dsl import Dataset, Markdown
    from component_store.components.encode_categorical import encode_categorical
    from component_store.components.fill_missing import fill_missing
    from component_store.components.profile_table import profile_table
    from component_store.components.sample_dataset import sample_dataset
    from component_store.components.train_test_split import train_test_split
    from component_store.components.validate_schema import validate_schema

    out = Path(sys.argv[1])
    import pandera.pandas, sklearn.model_selection  # imported up front: the step times below are compute only
    def a(name, kind=Dataset):
        return kind(name=name, uri=str(out / name))
    steps = {}
    def step(name, call):
        start = time.perf_counter(); call(); steps[name] = time.perf_counter() - start
    t = {n: a(n) for n in ("table", "validated", "filled", "encoded", "train", "test")}
    step("players", lambda: sample_dataset(table=t["table"], dataset="player_risk", rows=5000))
    step("profile", lambda: profile_table(table=t["table"], profile=a("profile", Markdown)))
    step("validate", lambda: validate_schema(table=t["table"], validated=t["validated"], report=a("report", Markdown)))
    step("fill", lambda: fill_missing(table=t["validated"], filled=t["filled"]))
    step("encode", lambda: encode_categorical(table=t["filled"], encoded=t["encoded"], exclude=["player_id", "is_cheater"]))
    step("split", lambda: train_test_split(table=t["encoded"], train=t["train"], test=t["test"], label="is_cheater"))
    print(json.dumps(steps))
    """
)


def kfp_local(tmp: Path) -> float:
    workspace = fresh_workspace(tmp / "kfp-ws")
    subprocess.run(
        [str(BIN / "tessera"), "workflow", "compile", "player_features", "-o", "ir.yaml"],
        cwd=workspace,
        env=ENV,
        check=True,
        capture_output=True,
    )
    script = tmp / "kfp_local.py"
    script.write_text(KFP_LOCAL)
    return timed_command([sys.executable, str(script), "ir.yaml", str(tmp / "kfp-root")], workspace)


def plain_script(tmp: Path) -> tuple[float, dict[str, float]]:
    out = tmp / "plain"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    script = tmp / "plain.py"
    script.write_text(PLAIN)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(script), str(out)], env=ENV, check=True, capture_output=True, text=True, cwd=REPO
    )
    return time.perf_counter() - start, json.loads(result.stdout)


def node_seconds(tmp: Path) -> dict[str, float]:
    from pipelines.runs import RunStore

    runs = RunStore(tmp / "ws" / ".tessera" / "runs.db")
    cold = runs.recent(limit=2)[-1]
    return {n.node_id: n.seconds or 0.0 for n in cold.nodes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows: dict[str, list[float]] = {k: [] for k in ("tessera", "tessera_spawn", "kfp_local", "plain", "cached")}
    per_node: list[dict[str, float]] = []
    plain_steps: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for _ in range(args.repeat):
            cold, cached = tessera_cli(tmp)
            rows["tessera"].append(cold)
            rows["cached"].append(cached)
            per_node.append(node_seconds(tmp))
            rows["tessera_spawn"].append(tessera_cli(tmp, "--isolation", "spawn")[0])
            rows["kfp_local"].append(kfp_local(tmp))
            plain_total, steps = plain_script(tmp)
            rows["plain"].append(plain_total)
            plain_steps.append(steps)
    median = {k: statistics.median(v) for k, v in rows.items()}
    print(f"demo workflow (6 nodes, 5,000 players), median of {args.repeat} runs, wall seconds")
    print("| contender | median s | ratio to kfp.local |")
    print("|---|---|---|")
    labels = {
        "tessera": "tessera run (CLI, cold cache, fork server)",
        "tessera_spawn": "tessera run --isolation spawn (cold cache)",
        "kfp_local": "kfp.local SubprocessRunner on the compiled IR",
        "plain": "plain script, one process",
        "cached": "tessera run again (all cache hits)",
    }
    for key, label in labels.items():
        print(f"| {label} | {median[key]:.2f} | {median[key] / median['kfp_local']:.2f}x |")
    print()
    print("| node | tessera node wall s | plain in-process s | overhead s |")
    print("|---|---|---|---|")
    for node in per_node[0]:
        ours = statistics.median(p[node] for p in per_node)
        floor = statistics.median(p[node] for p in plain_steps)
        print(f"| {node} | {ours:.3f} | {floor:.3f} | {ours - floor:.3f} |")
    goal_cold = median["tessera"] <= 0.7 * median["kfp_local"]
    print(
        f"\ngoals: cold <= 0.7x kfp.local: {'met' if goal_cold else 'MISSED'}; "
        f"cached rerun <= 1 s: {'met' if median['cached'] <= 1 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
