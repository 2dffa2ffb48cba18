"""`tessera components …`: browse, vet and publish the component store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from studio.console import JsonOption, console, fail

if TYPE_CHECKING:
    from component_store.store import ComponentStore, LayeredStore

app = typer.Typer(help="Browse, vet and publish the component store.", no_args_is_help=True)


def open_store() -> ComponentStore:
    """Inside a workspace, its layered store (built-in, then its team stores); elsewhere the built-in store."""
    from component_store.store import ComponentStore, workspace_store
    from tessera.errors import WorkspaceError
    from tessera.workspace import find_workspace

    try:
        workspace = find_workspace()
    except WorkspaceError:
        return ComponentStore()
    return workspace_store(workspace)


def open_team_store() -> LayeredStore:
    """The workspace's layered store, for commands that write to a team store (refused outside a workspace)."""
    from component_store.store import LayeredStore

    store = open_store()
    if not isinstance(store, LayeredStore):
        fail("team stores live in a workspace: run this inside one (tessera init)")
    return store


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
    store = open_store()
    specs = store.search(search, category=category, tag=tag)
    infos = [store.info(spec.name, spec.version) for spec in specs]
    if as_json:
        print(
            json.dumps(
                [i.spec.model_dump(mode="json") | {"store": i.store, "status": i.status} for i in infos], indent=2
            )
        )
        return
    table = Table(title=f"{len(specs)} component(s)")
    for column in ("component", "version", "store", "status", "category", "summary", "owner"):
        table.add_column(column)
    colours = {"approved": "green", "review": "yellow", "deprecated": "red"}
    for info in infos:
        spec = info.spec
        status = f"[{colours.get(info.status, 'white')}]{info.status}[/]"
        table.add_row(spec.name, spec.version, info.store, status, spec.category, spec.summary, spec.owner)
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
    every_usage = _usages(spec.name, None)
    versions = [store.info(spec.name, v.version) for v in store.versions(spec.name)]
    if as_json:
        body = spec.model_dump(mode="json") | {
            "store": store.info(spec.name, spec.version).store,
            "status": store.info(spec.name, spec.version).status,
            "versions": [v.spec.version for v in versions],
            "version_history": [
                {"version": v.spec.version, "status": v.status, "author": v.author, "message": v.message,
                 "published_at": v.published_at, "replacement": v.replacement,
                 "used_by": [f"{u.workflow} (node {u.node})" for u in every_usage if u.component == v.spec.ref]}
                for v in versions
            ],
            "params_schema": spec.params_json_schema(),
            "used_by": [{"workflow": u.workflow, "node": u.node} for u in usages],
        }  # fmt: skip
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
    for p in spec.param_outputs:  # values that `when:` conditions read, e.g. gate.decision
        artifacts.add_row("output (parameter)", p.name, p.type, p.description or "read by when: conditions")
    console.print(artifacts)
    console.print(f"Digest {spec.digest[:19]}…")
    history = Table(title=f"Versions ({versions[0].store} store)", title_justify="left")
    for column in ("version", "status", "published", "by", "what changed", "used by"):
        history.add_column(column)
    for v in versions:
        status = v.status + (f" → use {v.replacement}: {v.reason}" if v.replacement else "")
        users = [f"{u.workflow} ({u.node})" for u in every_usage if u.component == v.spec.ref]
        history.add_row(v.spec.version, status, v.published_at[:10], v.author, v.message, ", ".join(users) or "-")
    console.print(history)
    if not usages:
        console.print(f"[dim]{spec.ref} is used by no workflow in this workspace.[/]")


def _usages(name: str, version: str | None) -> list[Any]:
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
    """Check components: typed, documented, self-contained; a team component's own tests and a trial run too."""
    store = open_store()
    failed = 0
    for component in _selected(store, names, every):
        with console.status(f"vetting {component.spec.ref}…"):
            problems, notes = _vet(store, component)
        # a team component's version is decided at publish: name it alone
        label = component.name if _is_team(store, component.name) else component.spec.ref
        if problems:
            failed += 1
            console.print(f"[red]✗ {label}[/]")
            for problem in problems:
                console.print(f"    - {problem}", markup=False)
        else:
            console.print(f"[green]✓ {label}[/]  [dim]{'; '.join(notes)}[/]")
    if failed:
        fail(f"{failed} component(s) failed vetting")


def _vet(store: Any, component: Any) -> tuple[list[str], list[str]]:
    """(problems, notes): a team component fully (pipelines/vetting.py), a built-in one statically."""
    from component_store.vet import vet_component

    if _is_team(store, component.name):
        from pipelines.vetting import vet_team_component
        from tessera.workspace import find_workspace

        layer = _team_of(store, component.name)
        report = vet_team_component(
            layer.source(component.name), layer.source_folder, find_workspace().component_environment()
        )
        return report.problems, report.notes
    return vet_component(component, _tests_root()), []


def _is_team(store: Any, name: str) -> bool:
    return any(name in layer.source_names() for layer in getattr(store, "team_layers", []))


def _team_of(store: Any, name: str) -> Any:
    return next(layer for layer in store.team_layers if name in layer.source_names())


@app.command()
def publish(
    names: Annotated[list[str] | None, typer.Argument(help="Source component names.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Publish every source component.")] = False,
    message: Annotated[str, typer.Option("--message", "-m", help="What changed (kept with the version).")] = "",
    author: Annotated[str | None, typer.Option(help="Who publishes (default: TESSERA_USER, git's user.email).")] = None,
) -> None:
    """Vet components and freeze a new version; a team store picks the version from what changed."""
    from component_store.publish import publish as publish_component
    from tessera.sdk.components import publish_team_source
    from tessera.workspace import find_workspace

    store = open_store()
    for component in _selected(store, names, every):
        if not _is_team(store, component.name):
            result = publish_component(component, store, _tests_root())
            colour = "green" if result.outcome == "published" else "dim"
            console.print(f"[{colour}]{result.outcome:>9}[/] {result.ref}  {result.digest[:19]}…")
            continue
        with console.status(f"vetting {component.name} (static checks, its tests, a trial run)…"):
            published = publish_team_source(find_workspace(), component.name, message=message, author=author)
        console.print(f"[green]✓ vetted[/] {component.name}  [dim]{'; '.join(published.notes)}[/]")
        if published.outcome == "unchanged":
            console.print(f"[dim]unchanged[/] {published.ref}: {published.why}")
            continue
        console.print(f"[green]published[/] {published.ref} in review ({published.why})")
        console.print(f"next: an approver runs  tessera components approve {published.ref}")


@app.command()
def new(
    name: Annotated[str, typer.Argument(help="snake_case name, e.g. clip_outliers.")],
    category: Annotated[str, typer.Option("--category", "-c", help="data, transform, model, evaluate, deploy…")],
    store_name: Annotated[str | None, typer.Option("--store", help="Team store (default: the first).")] = None,
) -> None:
    """Scaffold a team component and its test: components/NAME.py and components/tests/test_NAME.py."""
    from component_store.review import current_user
    from component_store.scaffold import scaffold

    store = open_team_store()
    if store.has(name):
        fail(f"'{name}' is a component of the {store.layer_of(name).name} store already: pick another name")
    layer = _layer(store, store_name)
    source, test = scaffold(layer.source_folder, name, category, current_user())
    console.print(f"wrote {source}\nwrote {test}")
    console.print(f"next: put your script's logic in it, fill in the test, then  tessera components publish {name}")


@app.command()
def approve(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION in review.")],
    as_user: Annotated[
        str | None, typer.Option("--as", help="Who approves (default: TESSERA_USER, git's user.email).")
    ] = None,
) -> None:
    """Approve a version in review (the store's approvers only); palettes then offer it."""
    from component_store.review import approve as approve_version
    from component_store.review import current_user

    info = approve_version(open_team_store(), ref, current_user(as_user))
    console.print(f"[green]approved[/] {info.spec.ref} by {info.approved_by}")


@app.command()
def deprecate(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION to retire.")],
    use: Annotated[str, typer.Option("--use", help="NAME@VERSION to use instead.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown wherever the version is pinned).")],
    as_user: Annotated[str | None, typer.Option("--as", help="Who deprecates.")] = None,
) -> None:
    """Mark a version deprecated: workflows pinning it warn and name the replacement."""
    from component_store.review import current_user
    from component_store.review import deprecate as deprecate_version

    info = deprecate_version(open_team_store(), ref, use, reason, current_user(as_user))
    console.print(f"[yellow]deprecated[/] {info.spec.ref}: use {info.replacement} ({info.reason})")


@app.command("import")
def import_component(
    file: Annotated[Path, typer.Argument(help="A KFP v2 component YAML (kfp.compiler.Compiler().compile(...)).")],
    category: Annotated[str, typer.Option("--category", "-c", help="Its category in the store.")],
    name: Annotated[str | None, typer.Option(help="Its name in the store (default: the YAML's).")] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="Where it comes from, what changed.")] = "",
    store_name: Annotated[str | None, typer.Option("--store", help="Team store (default: the first).")] = None,
    author: Annotated[str | None, typer.Option(help="Who imports it.")] = None,
) -> None:
    """Bring a component written with kfp by someone else (Python or container) into a team store, as it is."""
    from component_store.importer import spec_from_component_yaml
    from component_store.publish import publish_to_team
    from component_store.review import current_user

    if not file.is_file():
        fail(f"no file {file}")
    text = file.read_text()
    spec = spec_from_component_yaml(text, category, name, owner=current_user(author))
    store = open_team_store()
    layer = _layer(store, store_name)
    result = publish_to_team(spec, text, store, author=current_user(author), message=message, into=layer.name)
    kind = "container component (its own image on Kubeflow)" if spec.kind == "container" else "Python component"
    if result.outcome == "unchanged":
        console.print(f"[dim]unchanged[/] {result.ref}")
        return
    console.print(f"[green]imported[/] {result.ref} into {layer.name}, in review: a {kind}")
    if spec.packages:
        console.print(f"  needs packages: {', '.join(spec.packages)}")


def _layer(store: LayeredStore, name: str | None) -> Any:
    return store.layer(name)
