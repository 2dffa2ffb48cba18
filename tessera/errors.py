"""The one exception tree of Tessera.

    TesseraError                 root: every error a user can act on
    ├── WorkspaceError           no workspace found, bad tessera.yaml
    ├── ComponentError           a component definition is wrong (bad signature, bad metadata)
    │   ├── ComponentNotFound    unknown component name or version
    │   ├── VetFailed            a component does not meet the store's promises
    │   └── PublishRefused       publishing would change a frozen version
    ├── WorkflowInvalid          a workflow file or value has problems (all listed at once)
    ├── CompileError             a valid workflow could not be compiled to KFP IR
    └── OperationFailed          a request that was fine did not succeed: a run failed, an endpoint did not
        │                        start, a cluster or service refused or did not answer
        └── RunFailed            a workflow run ended failed or cancelled

The CLI prints `str(error)` (never a traceback) and exits with code 1 for an `OperationFailed`,
2 for every other error (usage and validation: the request itself must change).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class TesseraError(Exception):
    """Root of every error a Tessera user can act on."""


class WorkspaceError(TesseraError):
    """No workspace where one is needed, or its `tessera.yaml` is wrong."""


class ComponentError(TesseraError):
    """A component's definition breaks the store's rules."""


class ComponentNotFound(ComponentError):
    """A component name or version that the store does not have."""


class VetFailed(ComponentError):
    """A component that does not meet the store's promises; lists every problem."""

    def __init__(self, component: str, problems: Sequence[str]):
        self.component = component
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"Component '{component}' failed vetting:\n{lines}")


class PublishRefused(ComponentError):
    """Publishing would overwrite a frozen, published version."""


class OperationFailed(TesseraError):
    """A request that was valid did not succeed (the CLI exits 1): trying again may work, the request need not change."""


class RunFailed(OperationFailed):
    """A workflow run ended failed or cancelled."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workflow, located as precisely as possible.

    `where` reads like a path a user can find in the YAML: `node 'train' › params › n_estimators`.
    """

    where: str
    message: str

    def __str__(self) -> str:
        # Both may quote what the file holds: a 20 KB node id is shown as a fragment, never echoed whole.
        where, message = _fragment(self.where, 160), _fragment(self.message, 400)
        return f"{where}: {message}" if where else message


def _fragment(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 40]}…({len(text) - limit + 30} characters)…{text[-10:]}"


class WorkflowInvalid(TesseraError):
    """A workflow with one or more problems; `problems` lists them all."""

    def __init__(self, source: str, problems: Sequence[Problem]):
        self.source = source
        self.problems = list(problems)
        count = len(self.problems)
        header = f"Workflow {source} has {count} problem{'s' if count != 1 else ''}:"
        body = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{header}\n{body}")


class CompileError(TesseraError):
    """A workflow that could not be turned into a KFP pipeline."""
