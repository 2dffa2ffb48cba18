"""`Components` and `@tessera.component`: browse the store, and write a component in a notebook cell
then publish it to the team store through the same vetting as `tessera components publish`.

A notebook component becomes two files in the team store's folder, as if written by hand:
`NAME.py` (the function under `component_store.decorator.component`) and `tests/test_NAME.py`
(the test functions given). The function must import what it uses inside its body, as every
component does; test functions may use `pd` (pandas) and kfp's artifact classes, and import
anything else inside their body.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tessera.errors import ComponentError

if TYPE_CHECKING:
    from component_store.decorator import StoreComponent
    from component_store.spec import ComponentSpec
    from component_store.store import ComponentStore
    from tessera.workspace import Workspace as WorkspaceFolder

SOURCE_HEADER = '''"""{name}: {summary}

Written in a notebook and published with tessera's SDK (ws.components.publish).
"""

from kfp.dsl import Artifact, ClassificationMetrics, Dataset, HTML, Input, Markdown, Metrics, Model, Output

from component_store.decorator import component


@component({arguments})
'''
TEST_HEADER = '''"""Tests of {name}, written in a notebook beside it."""

import pandas as pd
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, HTML, Markdown, Metrics, Model

from {name} import {name}

'''


def component(
    category: str, *, name: str | None = None, tags: Sequence[str] = (), owner: str = "",
    packages: Sequence[str] = (),
) -> Callable[[Callable[..., Any]], StoreComponent]:  # fmt: skip
    """Declare a component in a notebook cell; call it to try it, `ws.components.publish` it to share it.

    Example:
        >>> @tessera.component(category="transform")  # doctest: +SKIP
        ... def clip_amounts(table: Input[Dataset], clipped: Output[Dataset], high: float = 500.0):
        ...     '''Clip payment amounts at a ceiling.'''
        ...     from component_store.runtime.tables import read_table, write_table
        ...     frame = read_table(table)
        ...     frame["payment_amount_30d"] = frame["payment_amount_30d"].clip(upper=high)
        ...     write_table(frame, clipped)
    """
    from component_store.decorator import component as store_component

    def wrap(function: Callable[..., Any]) -> StoreComponent:
        declared = store_component(
            name=name or function.__name__, category=category, tags=tags, owner=owner, packages=packages
        )
        return declared(function)

    return wrap


@dataclass(frozen=True)
class Published:
    """What `Components.publish` did: the version published (in review), or unchanged."""

    ref: str
    outcome: str
    why: str
    notes: tuple[str, ...]


class Components:
    """The workspace's component store: built-in components and its team stores'."""

    def __init__(self, folder: WorkspaceFolder):
        self._folder = folder

    @property
    def store(self) -> ComponentStore:
        from component_store.store import workspace_store

        return workspace_store(self._folder)  # read afresh: a publish adds files

    def search(self, text: str | None = None, *, category: str | None = None, tag: str | None = None) -> list[Any]:
        """The latest version of every component matching all the filters given."""
        return self.store.search(text, category=category, tag=tag)

    def show(self, ref: str) -> ComponentSpec:
        """A component's spec (`name` for the latest version, or `name@version`)."""
        store = self.store
        return store.resolve(ref) if "@" in ref else store.latest(ref)

    def publish(
        self, component: StoreComponent, tests: Sequence[Callable[..., Any]], *, message: str = "",
        author: str | None = None, store: str | None = None,
    ) -> Published:  # fmt: skip
        """Write a notebook component and its tests into a team store, vet them (static checks, the tests,
        a trial run) and publish a version for review; on a vetting failure the store's files are left
        as they were and `VetFailed` lists the problems."""
        from component_store.publish import team_layer_for
        from component_store.store import LayeredStore

        layered = self.store
        if not isinstance(layered, LayeredStore) or not layered.team_layers:
            raise ComponentError("this workspace has no team store: add one under `stores:` in tessera.yaml")
        if not tests:
            raise ComponentError(
                f"publishing {component.name} needs at least one test function that runs it and checks its output"
            )
        layer = layered.layer(store) if store else team_layer_for(component.name, layered)
        folder = layer.source_folder
        assert folder is not None
        files = {
            folder / f"{component.name}.py": component_file(component),
            folder / "tests" / f"test_{component.name}.py": tests_file(component.name, tests),
        }
        before = {path: path.read_text() if path.exists() else None for path in files}
        from tessera.workspace import write_atomically

        for path, text in files.items():
            write_atomically(path, text)
        try:
            return publish_team_source(self._folder, component.name, message=message, author=author)
        except Exception:
            for path, old_text in before.items():
                if old_text is None:
                    path.unlink(missing_ok=True)
                else:
                    write_atomically(path, old_text)
            raise

    def __repr__(self) -> str:
        return f"Components({len(self.store.names())} components)"


def publish_team_source(
    folder: WorkspaceFolder, name: str, *, message: str = "", author: str | None = None
) -> Published:
    """Vet a team component's source and publish a version of it for review: the one implementation
    behind `tessera components publish` and `ws.components.publish`.

    Raises:
        PublishRefused: the name is taken in another store.
        VetFailed: the static checks, its tests or its trial run failed (each problem listed).
    """
    from component_store.publish import check_name_free, publish_to_team, team_layer_for
    from component_store.store import workspace_store
    from pipelines.vetting import vet_team_component
    from tessera.identity import current_user

    layered = workspace_store(folder)
    layer = team_layer_for(name, layered)
    check_name_free(layered, name, layer)  # before vetting: a clash needs a rename, not a test run
    source = layer.source(name)
    assert layer.source_folder is not None
    report = vet_team_component(source, layer.source_folder, folder.component_environment())
    report.raise_if_failed()
    team = publish_to_team(
        source.spec, source.to_component_yaml(), layered, author=current_user(author), message=message, into=layer.name
    )
    if team.outcome == "unchanged":
        why = "nothing changed since it was published"
    elif team.previous:
        why = f"{team.change.bump} change from {team.previous}: {team.change.describe()}"
    else:
        why = "first version"
    return Published(team.ref, team.outcome, why, tuple(report.notes))


def component_file(component: StoreComponent) -> str:
    """The team-store file of a notebook component: its function under the store's decorator."""
    spec = component.spec
    arguments = ", ".join(
        f"{key}={value!r}"
        for key, value in {
            "name": spec.name, "category": spec.category, "tags": list(spec.tags), "owner": spec.owner,
            "packages": list(spec.packages),
        }.items()
        if value or key in ("name", "category")
    )  # fmt: skip
    header = SOURCE_HEADER.format(name=spec.name, summary=spec.summary, arguments=arguments)
    return header + function_source(component.source_function)


def tests_file(name: str, tests: Sequence[Callable[..., Any]]) -> str:
    for test in tests:
        if not test.__name__.startswith("test_"):
            raise ComponentError(f"'{test.__name__}' is not a test: pytest runs functions named test_…; rename it")
    return TEST_HEADER.format(name=name) + "\n\n".join(function_source(test) for test in tests)


def function_source(function: Callable[..., Any]) -> str:
    """A function's own source without its decorators (a notebook cell's source included)."""
    try:
        text = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as exc:
        raise ComponentError(
            f"the source of {getattr(function, '__name__', function)} cannot be read ({exc}): define it in a "
            "notebook cell or a file, not with exec"
        ) from None
    tree = ast.parse(text)
    definition = next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    lines = text.splitlines()[definition.lineno - 1 : definition.end_lineno]
    return "\n".join(lines) + "\n"
