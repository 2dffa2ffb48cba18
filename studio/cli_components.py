"""`tessera components …`: browse, vet and publish the component store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from studio.console import JsonOption, console, fail

if TYPE_CHECKING:
    from component_store.store import ComponentStore

app = typer.Typer(help="Browse, vet and publish the component store.", no_args_is_help=True)


def open_store() -> ComponentStore:
    """The workspace's store when inside a workspace that names one, else the built-in store."""
    from component_store.store import ComponentStore
    from tessera.errors import WorkspaceError
    from tessera.workspace import find_workspace

    try:
        workspace = find_workspace()
    except WorkspaceError:
        return ComponentStore()
    store_path = workspace.config.store
    return ComponentStore(workspace.resolve(store_path)) if store_path else ComponentStore()


@app.command("list")
def list_components(
    search: Annotated[
        str | None, typer.Option("--search", "-s", help="Text in name, summary, description or tags.")
    ] = None,
    category: Annotated[str | None, typer.Option("--category", "-c", help="Only this category.")] = None,
    tag: Annotated[str | None, typer.Option("--tag", "-t", help="Only components with this tag.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List the latest published version of each component."""
    from rich.table import Table

    from component_store.spec import CATEGORIES
    from tessera.suggest import did_you_mean

    if category and category not in CATEGORIES:
        fail(f"unknown category '{category}'{did_you_mean(category, CATEGORIES)}; categories: {', '.join(CATEGORIES)}")
    specs = open_store().search(search, category=category, tag=tag)
    if as_json:
        print(json.dumps([s.model_dump(mode="json") for s in specs], indent=2))
        return
    table = Table(title=f"{len(specs)} component(s)")
    for column in ("component", "version", "category", "summary", "owner"):
        table.add_column(column)
    for spec in specs:
        table.add_row(spec.name, spec.version, spec.category, spec.summary, spec.owner)
    console.print(table)


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION (the latest when no version is given).")],
    as_json: JsonOption = False,
) -> None:
    """Show one component: parameters, inputs, outputs, versions and the workflows using it."""
    from rich.table import Table

    from component_store.store import parse_ref

    store = open_store()
    name, version = parse_ref(ref)
    spec = store.get(name, version) if version else store.latest(name)
    usages = _usages(spec.name, spec.version)
    if as_json:
        body = spec.model_dump(mode="json") | {
            "versions": [v.version for v in store.versions(spec.name)],
            "params_schema": spec.params_json_schema(),
            "used_by": [{"workflow": u.workflow, "node": u.node} for u in usages],
        }
        print(json.dumps(body, indent=2))
        return
    console.print(f"[bold]{spec.ref}[/]  [dim]{spec.category} · owner {spec.owner or '-'} · {', '.join(spec.tags)}[/]")
    console.print(spec.summary)
    if spec.description:
        console.print(f"\n{spec.description}")
    params = Table(title="Parameters", title_justify="left")
    for column in ("name", "type", "default", "allowed", "help"):
        params.add_column(column)
    for p in spec.params:
        allowed = (
            " | ".join(map(str, p.choices))
            if p.choices
            else (f"{p.minimum:g} … {p.maximum:g}" if p.minimum is not None and p.maximum is not None else "")
        )
        params.add_row(p.name, p.type, "(required)" if p.required else repr(p.default), allowed, p.description)
    console.print(params)
    artifacts = Table(title="Artifacts", title_justify="left")
    for column in ("direction", "name", "type", "help"):
        artifacts.add_column(column)
    for direction, items in (("input", spec.inputs), ("output", spec.outputs)):
        for a in items:
            artifacts.add_row(direction, a.name, a.type, a.description)
    console.print(artifacts)
    console.print(f"Versions: {', '.join(v.version for v in store.versions(spec.name))}   digest {spec.digest[:19]}…")
    if usages:
        console.print("Used by: " + ", ".join(f"{u.workflow} (node {u.node})" for u in usages))
    else:
        console.print("[dim]Used by no workflow in this workspace.[/]")


def _usages(name: str, version: str) -> list[Any]:
    from pipelines.usage import component_usages
    from tessera.errors import WorkspaceError
    from tessera.workspace import find_workspace

    try:
        return component_usages(find_workspace(), name, version)
    except WorkspaceError:
        return []


def _selected(store: Any, names: list[str] | None, every: bool) -> list[Any]:
    if every:
        return [store.source(n) for n in store.source_names()]
    if not names:
        fail("name the components to act on, or pass --all")
    return [store.source(n) for n in names]


def _tests_root() -> Path:
    return Path(__file__).resolve().parents[1] / "tests" / "component_store"


@app.command()
def vet(
    names: Annotated[list[str] | None, typer.Argument(help="Source component names.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Vet every source component.")] = False,
) -> None:
    """Check components against the store's promises (typed, documented, self-contained, tested)."""
    from component_store.vet import vet_component

    store = open_store()
    failed = 0
    for component in _selected(store, names, every):
        problems = vet_component(component, _tests_root())
        if problems:
            failed += 1
            console.print(f"[red]✗ {component.spec.ref}[/]")
            for problem in problems:
                console.print(f"    - {problem}")
        else:
            console.print(f"[green]✓ {component.spec.ref}[/]")
    if failed:
        fail(f"{failed} component(s) failed vetting")


@app.command()
def publish(
    names: Annotated[list[str] | None, typer.Argument(help="Source component names.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Publish every source component.")] = False,
) -> None:
    """Vet components and freeze their current version in the store (never overwriting one)."""
    from component_store.publish import publish as publish_component

    store = open_store()
    for component in _selected(store, names, every):
        result = publish_component(component, store, _tests_root())
        colour = "green" if result.outcome == "published" else "dim"
        console.print(f"[{colour}]{result.outcome:>9}[/] {result.ref}  {result.digest[:19]}…")
