"""Run one node through KFP's own executor, the contract a Kubeflow pod uses.

A node is run as `kfp.dsl.executor_main --component_module_path … --executor_input …
--function_to_execute …` on the frozen component's source, in a process of its own.
Two ways to get that process:

- `fork` (default): a fork of a server process that has already imported kfp, pandas,
  pyarrow and scikit-learn (Python's `forkserver` with a preload list). The node still
  runs KFP's executor in its own process, with its own log, exit code and kill; it only
  skips the ≈ 1.4 s of interpreter start and imports that a fresh process pays.
- `spawn`: the component YAML's container command itself (`sh -ec …python3 -m
  kfp.dsl.executor_main…`), in a fresh interpreter, as a pod would run it.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import yaml

Isolation = Literal["fork", "spawn"]
PARAMETER_OUTPUT = "parameter"  # the type recorded for a parameter output (a value, no file)
PRELOAD = [
    "kfp.dsl.executor_main",
    "pandas",
    "pyarrow.parquet",
    "sklearn.model_selection",
    "component_store.runtime.tables",
]


@dataclass(frozen=True)
class ExecutorCall:
    """What KFP's executor needs for one node, read from the frozen component YAML."""

    function_name: str  # "" for a container component (its own image and command, no Python function)
    module_source: str
    container_command: list[str]
    input_types: dict[str, str]  # artifact input name -> schema title
    output_types: dict[str, str]  # artifact output name -> schema title


def read_executor_call(component_yaml: str) -> ExecutorCall:
    """The executor-facing parts of a frozen component YAML."""
    document = yaml.load(component_yaml, Loader=yaml.CSafeLoader)
    component = next(iter(document["components"].values()))
    container = next(iter(document["deploymentSpec"]["executors"].values()))["container"]
    args = list(container.get("args", []))
    function_name = args[args.index("--function_to_execute") + 1] if "--function_to_execute" in args else ""

    def types(section: str) -> dict[str, str]:
        artifacts = component.get(section, {}).get("artifacts", {})
        return {name: spec["artifactType"]["schemaTitle"] for name, spec in artifacts.items()}

    return ExecutorCall(
        function_name=function_name,
        module_source=container["command"][-1] if function_name else "",
        container_command=list(container["command"]) + list(args),
        input_types=types("inputDefinitions"),
        output_types=types("outputDefinitions"),
    )


def executor_input(
    call: ExecutorCall, params: dict[str, Any], inputs: dict[str, Any], output_dir: Path
) -> dict[str, Any]:
    """The ExecutorInput JSON: parameter values, input artifacts (uri + metadata; a list input, one per loop
    iteration, takes a list of them) and output placeholders."""

    def entry(name: str, schema: str, uri: str, metadata: dict[str, Any]) -> dict[str, Any]:
        return {"name": name, "type": {"schemaTitle": schema}, "uri": uri, "metadata": metadata}

    def artifacts(name: str, value: Any) -> dict[str, Any]:
        values = value if isinstance(value, list) else [value]
        schema = call.input_types[name]
        return {"artifacts": [entry(name, schema, v["uri"], v.get("metadata", {})) for v in values]}

    return {
        "inputs": {
            "parameterValues": params,
            "artifacts": {name: artifacts(name, value) for name, value in inputs.items()},
        },
        "outputs": {
            "artifacts": {
                name: {"artifacts": [entry(name, schema, str(output_dir / name), {})]}
                for name, schema in call.output_types.items()
            },
            "outputFile": str(output_dir / "executor_output.json"),
        },
    }


def read_outputs(call: ExecutorCall, output_dir: Path) -> dict[str, Any]:
    """Output name -> {type, metadata} from the executor's output file (metadata may be empty), and
    parameter outputs (a NamedTuple return) as {type: "parameter", value}."""
    path = output_dir / "executor_output.json"
    written = json.loads(path.read_text()) if path.exists() else {}
    artifacts = written.get("artifacts", {})
    outputs: dict[str, Any] = {}
    for name, schema in call.output_types.items():
        entries = artifacts.get(name, {}).get("artifacts", [{}])
        outputs[name] = {"type": schema, "metadata": entries[0].get("metadata", {}) if entries else {}}
    for name, value in (written.get("parameterValues") or {}).items():
        outputs[name] = {"type": PARAMETER_OUTPUT, "metadata": {}, "value": value}
    return outputs


class NodeProcess(Protocol):
    """A running node: poll for its exit code, kill it."""

    pid: int | None

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...


class _ForkedNode:
    def __init__(self, process: Any):
        self._process = process
        self.pid: int | None = process.pid

    def poll(self) -> int | None:
        code = self._process.exitcode
        if code is not None:
            self._process.join(0)
        return code  # type: ignore[no-any-return]

    def kill(self) -> None:
        self._process.kill()
        self._process.join(5)

    @property
    def sentinel(self) -> int:
        return self._process.sentinel  # type: ignore[no-any-return]


class _SpawnedNode:
    def __init__(self, process: subprocess.Popen[bytes]):
        self._process = process
        self.pid: int | None = process.pid

    def poll(self) -> int | None:
        return self._process.poll()

    def kill(self) -> None:
        self._process.kill()
        self._process.wait(5)


_context: Any = None


def _fork_context() -> Any:
    global _context
    if _context is None:
        _context = multiprocessing.get_context("forkserver")
        _context.set_forkserver_preload(PRELOAD)
    return _context


def warm_up() -> None:
    """Start the node fork server now, in the background (it imports PRELOAD on its own), so the first
    node forked later, e.g. the studio's first preview, does not wait for those imports."""
    from multiprocessing import forkserver

    _fork_context()
    caller_main = sys.modules["__main__"]  # as in start_node: the server must not re-run the caller's script
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        forkserver.ensure_running()
    finally:
        sys.modules["__main__"] = caller_main


def start_node(
    call: ExecutorCall,
    payload: dict[str, Any],
    workdir: Path,
    log_path: Path,
    env: dict[str, str | None],
    isolation: Isolation = "fork",
) -> NodeProcess:
    """Start KFP's executor for one node; stdout and stderr go to `log_path`."""
    if isolation not in ("fork", "spawn"):
        raise ValueError(f"isolation must be 'fork' or 'spawn', not '{isolation}'")
    workdir.mkdir(parents=True, exist_ok=True)
    if not call.function_name:  # a container component: its own command, placeholders resolved as KFP does
        from kfp.local.placeholder_utils import replace_placeholders

        for output in payload["outputs"]["artifacts"].values():
            Path(output["artifacts"][0]["uri"]).parent.mkdir(parents=True, exist_ok=True)
        command = replace_placeholders(call.container_command, payload, "tessera", "node", str(workdir), "local")
        isolation = "spawn"
    elif isolation == "spawn":
        command = [part.replace("{{$}}", json.dumps(payload)) for part in call.container_command]
    if isolation == "spawn":
        environment = {k: v for k, v in (os.environ | env).items() if v is not None}
        environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                command, cwd=workdir, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        return _SpawnedNode(process)
    module_path = workdir / "ephemeral_component.py"
    module_path.write_text(call.module_source)
    argv = [
        "--component_module_path", str(module_path),
        "--executor_input", json.dumps(payload),
        "--function_to_execute", call.function_name,
    ]  # fmt: skip
    process = _fork_context().Process(
        target=_run_executor, args=(argv, env, str(log_path), str(workdir)), name="tessera-node", daemon=False
    )
    # multiprocessing would re-run the caller's __main__ script in the node (spawn semantics);
    # a node needs nothing from it, so show it an empty __main__ while starting.
    caller_main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        process.start()
    finally:
        sys.modules["__main__"] = caller_main
    return _ForkedNode(process)


def _die_with_parent() -> None:
    """Have the node die with its run's driver.

    The fork server hands each child a copy of the pipe that tells it its client is
    alive; a node holding it would keep the server (and itself) running after the driver
    died. Close it, so the server exits with the driver, and (Linux) ask the kernel to
    kill the node when the server exits.
    """
    from multiprocessing import forkserver

    server: Any = forkserver._forkserver
    if getattr(server, "_forkserver_alive_fd", None) is not None:
        os.close(server._forkserver_alive_fd)
        server._forkserver_alive_fd = None
    if sys.platform != "linux":
        return
    import ctypes

    pr_set_pdeathsig = 1
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, 9)  # SIGKILL
    except OSError:
        pass


def _run_executor(argv: list[str], env: dict[str, str | None], log_path: str, workdir: str) -> None:
    """In the forked node process: redirect output, set the environment, run KFP's executor_main."""
    import logging
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    _die_with_parent()
    descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(descriptor, 1)
    os.dup2(descriptor, 2)
    os.close(descriptor)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    logging.root.handlers.clear()
    for key, value in env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    os.environ["_KFP_RUNTIME"] = "true"
    os.chdir(workdir)
    sys.argv = ["kfp.dsl.executor_main", *argv]
    from kfp.dsl import executor_main

    try:
        executor_main.executor_main()
    except BaseException:
        import traceback

        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
