"""Before a local run starts: can this machine run every node? Refused up front, never skipped mid-run.

- a container component (an imported one with its own image and command) runs here only when its
  command's program is on this machine; otherwise it needs Kubeflow, and the run is refused naming it;
- a component that declares packages (`packages_to_install`) runs here only when they are installed
  (the refusal names them and gives the install command); on Kubeflow KFP installs them in the pod.
"""

from __future__ import annotations

import shlex
import shutil
from importlib import metadata

from component_store.store import ComponentStore
from pipelines.spec import WorkflowSpec
from pipelines.validation import pinned_versions
from tessera.errors import Problem


def local_problems(spec: WorkflowSpec, store: ComponentStore) -> list[Problem]:
    """What stops `spec` from running on this machine, one problem per node."""
    from pipelines.executor import read_executor_call

    problems = []
    for node, info in pinned_versions(spec, store):
        component = info.spec
        where = f"node '{node.id}' › component"
        if component.kind == "container":
            call = read_executor_call(store.component_yaml(component.name, component.version))
            program = call.container_command[0] if call.container_command else ""
            if not shutil.which(program):
                problems.append(
                    Problem(
                        where,
                        f"{component.ref} is a container component whose command '{program}' is not on this "
                        "machine: it needs Kubeflow (tessera run --backend kubeflow)",
                    )
                )
        missing = [p for p in component.packages if not installed(p)]
        if missing:
            problems.append(
                Problem(
                    where,
                    f"{component.ref} needs {', '.join(missing)}, not installed here; install with: "
                    f"pip install {' '.join(shlex.quote(p) for p in missing)}",
                )
            )
    return problems


def installed(requirement: str) -> bool:
    """Whether a pip requirement (`scipy`, `scipy>=1.11`) is satisfied in this environment."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        parsed = Requirement(requirement)
    except InvalidRequirement:
        return False
    try:
        version = metadata.version(parsed.name)
    except metadata.PackageNotFoundError:
        return False
    return parsed.specifier.contains(version, prereleases=True)
