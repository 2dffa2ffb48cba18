"""Tessera: the SDK at `import tessera`, over a shared kernel that every package uses.

The SDK (`tessera.sdk`) is a face, like the CLI and the studio: it opens a workspace and runs,
inspects and deploys what is in it. Its names are loaded on first use, so `import tessera` stays
quick and loads no kfp, mlflow, pandas or other heavy library.

Example:
    >>> import tessera
    >>> ws = tessera.open("demo-workspace")  # doctest: +SKIP
    >>> run = ws.run("cheater_detection", params={"n_trials": 3})  # doctest: +SKIP
    >>> run.output("split", "train").head()  # doctest: +SKIP

The kernel (`tessera.errors`, `tessera.workspace`, …) is the bottom layer: the error tree and the
workspace value, free of heavy imports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tessera.errors import TesseraError

if TYPE_CHECKING:
    from tessera.sdk import (
        Components,
        EndpointHandle,
        Endpoints,
        Models,
        Run,
        Workflow,
        Workspace,
        component,
        open,
    )

__all__ = [
    "Components",
    "EndpointHandle",
    "Endpoints",
    "Models",
    "Run",
    "TesseraError",
    "Workflow",
    "Workspace",
    "component",
    "open",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in __all__:
        from tessera import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'tessera' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])
