"""`tessera endpoint …`: serve registered model versions as REST endpoints, locally or on KServe."""

from __future__ import annotations

import sys
import time
from typing import Annotated, Any

import typer

from studio.console import JsonOption, console, fail, print_json

app = typer.Typer(
    help="REST endpoints for registered models: deploy, swap, canary, promote, roll back.", no_args_is_help=True
)

ModelOption = Annotated[str, typer.Option("--model", "-m", help="MODEL@ALIAS or MODEL/VERSION to serve.")]
CanaryOption = Annotated[str | None, typer.Option(help="MODEL/VERSION to send a share of requests to.")]
PercentOption = Annotated[int, typer.Option(help="Share of requests for the canary, 1-99.")]


def _workspace() -> Any:
    from tessera.workspace import find_workspace

    workspace = find_workspace()
    workspace.state_dir.mkdir(exist_ok=True)
    return workspace


def _local() -> Any:
    from serving.targets import local_target

    return local_target(_workspace())


def _kserve() -> Any:
    from serving.targets import kserve_target

    return kserve_target(_workspace())


def _target_of(name: str) -> Any:
    """The target that holds endpoint `name` (as recorded when it was deployed)."""
    from serving.targets import target_of

    return target_of(_workspace(), name)


def _request(**fields: Any) -> Any:
    from pydantic import ValidationError

    from serving.endpoints import EndpointRequest

    try:
        return EndpointRequest(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        fail(
            "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'request'}: {e['msg'].removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        )


def _show(endpoint: Any) -> None:
    colour = {"serving": "green", "starting": "yellow"}.get(endpoint.status, "red")
    console.print(f"[bold]{endpoint.name}[/] [{colour}]{endpoint.status}[/] {endpoint.url} ({endpoint.target})")
    for route in endpoint.routes:
        console.print(f"  {route.percent:>3}%  {route.model_name}/{route.version}  [dim](from {route.ref})[/]")
    if endpoint.message:
        console.print(f"  [red]{endpoint.message}[/]")


def _adapters(endpoint: Any) -> dict[str, dict[str, Any]]:
    """How each served version is computed (compiled or native, and why), as its server recorded it."""
    import mlflow

    from serving.served_model import compile_report

    mlflow.set_tracking_uri(_workspace().tracking_uri())
    adapters = {}
    for route in endpoint.routes:
        try:
            report = compile_report(route.model_name, route.version)
        except Exception:  # a version the registry no longer has: the routes above already say what is served
            report = None
        if report is not None:
            adapters[f"{route.model_name}/{route.version}"] = {"adapter": report.adapter, "reason": report.reason}
    return adapters


@app.command()
def deploy(
    name: Annotated[str, typer.Argument(help="Endpoint name (lower-case letters, digits, '-').")],
    model: ModelOption,
    canary: CanaryOption = None,
    percent: PercentOption = 10,
    port: Annotated[int | None, typer.Option(help="Local port (default: a free one).")] = None,
    max_batch_rows: Annotated[int, typer.Option(help="Largest batch accepted (413 above).")] = 10_000,
    target: Annotated[str, typer.Option(help="local (a process here) or kserve (an InferenceService).")] = "local",
    runtime: Annotated[
        str,
        typer.Option(
            help="kserve only: tessera (this server's container), tessera-runtime (the tessera-predictor ServingRuntime) or mlserver."
        ),
    ] = "tessera",
    namespace: Annotated[str, typer.Option(help="kserve only: namespace.")] = "default",
    cpu: Annotated[str, typer.Option(help="kserve only: CPU per replica.")] = "1",
    memory: Annotated[str, typer.Option(help="kserve only: memory per replica.")] = "2Gi",
    gpu: Annotated[int, typer.Option(help="kserve only: GPUs per replica.")] = 0,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="kserve only: print the InferenceService YAML, send nothing.")
    ] = False,
    compiled: Annotated[
        bool,
        typer.Option(
            "--compiled/--no-compiled",
            help="Serve through ONNX Runtime where the compiled model answers like the native one (checked at load).",
        ),
    ] = True,
    features: Annotated[
        str | None,
        typer.Option(
            help="Score by id: REPO:VIEW[,VIEW…], a Feast repo and the views the model's other columns are read from "
            "(e.g. projects/risk/features:player_activity)."
        ),
    ] = None,
    entity: Annotated[str, typer.Option(help="With --features: the id column requests carry.")] = "player_id",
    log_sample_rate: Annotated[
        float, typer.Option(help="Share of requests kept in the prediction log for monitoring (0 turns it off).")
    ] = 1.0,
) -> None:
    """Serve a model version (or an alias, followed as it moves) as a REST endpoint; prints its token once."""
    if target not in ("local", "kserve"):
        fail(f"target '{target}' is not one of 'local', 'kserve'")
    from serving.endpoints import FeatureLookup

    request = _request(
        name=name, model=model, canary=canary, canary_percent=percent if canary else 0, port=port,
        max_batch_rows=max_batch_rows, runtime=runtime, namespace=namespace,
        resources={"cpu": cpu, "memory": memory, "gpu": gpu}, compiled=compiled,
        features=FeatureLookup.parse(features, entity) if features else None, log_sample_rate=log_sample_rate,
    )  # fmt: skip
    if dry_run:
        if target != "kserve":
            fail("--dry-run shows what would be sent to a cluster: use it with --target kserve")
        import yaml

        from serving.kserve_target import to_manifest

        kserve = _kserve()
        config_map = kserve.feature_repo(request)  # with --features: the repo's definitions, for the pods
        documents = [to_manifest(config_map)] if config_map is not None else []
        documents.append(to_manifest(kserve.render(request)))
        sys.stdout.write(yaml.safe_dump_all(documents, sort_keys=False, width=1000))
        return
    started = time.monotonic()
    with console.status(f"starting endpoint {name}…"):
        endpoint = (_kserve() if target == "kserve" else _local()).deploy(request)
    _show(endpoint)
    console.print(f"ready in {time.monotonic() - started:.1f}s")
    console.print(f"token (shown once, keep it): [bold]{endpoint.token}[/]")
    console.print(
        f"try: curl -H 'Authorization: Bearer $TOKEN' -H 'Content-Type: application/json' "
        f"{endpoint.url}/v2/models/{name}", markup=False,
    )  # fmt: skip


@app.command("list")
def list_endpoints(as_json: JsonOption = False) -> None:
    """Every endpoint: status, URL, and which model versions answer with what share."""
    from rich.table import Table

    if as_json:
        print_json(_local().list())
        return
    table = Table(title="endpoints")
    for column in ("endpoint", "status", "serves", "url", "target"):
        table.add_column(column)
    local = _local()
    for endpoint in local.list():
        table.add_row(endpoint.name, endpoint.status, endpoint.version_summary(), endpoint.url, endpoint.target)
    console.print(table)


@app.command()
def show(name: Annotated[str, typer.Argument(help="Endpoint name.")], as_json: JsonOption = False) -> None:
    """One endpoint: what it serves now and the history of what it served."""
    target = _target_of(name)
    endpoint = target.status(name)
    adapters = _adapters(endpoint)
    if as_json:
        print_json({"endpoint": endpoint, "adapters": adapters, "history": target.registry.history(name)})
        return
    _show(endpoint)
    for label, report in adapters.items():
        how = "compiled (ONNX Runtime)" if report["adapter"] == "compiled" else report["adapter"]
        console.print(f"  {label} served {how}: [dim]{report['reason']}[/]")
    for entry in target.registry.history(name)[-15:]:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.at))
        routes = entry.detail.get("routes") or []
        what = ", ".join(f"{r['model_name']}/{r['version']} {r['percent']}%" for r in routes)
        console.print(f"  [dim]{when}[/] {entry.event:<12} {entry.actor:<10} {what or entry.detail.get('message', '')}")


@app.command()
def update(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="MODEL@ALIAS or MODEL/VERSION to serve.")] = None,
    canary: CanaryOption = None,
    percent: Annotated[int | None, typer.Option(help="Share of requests for the canary, 1-99.")] = None,
    no_canary: Annotated[bool, typer.Option("--no-canary", help="Drop the canary.")] = False,
) -> None:
    """Move an endpoint to another version or split; the swap happens without failed requests."""
    target = _target_of(name)
    current = target.registry.get(name).request
    changes: dict[str, Any] = {}
    if model:
        changes["model"] = model
    if no_canary:
        changes |= {"canary": None, "canary_percent": 0}
    elif canary:
        changes |= {"canary": canary, "canary_percent": percent or current.canary_percent or 10}
    elif percent is not None:
        changes["canary_percent"] = percent
    if not changes:
        fail("nothing to change: give --model, --canary/--percent or --no-canary")
    request = _request(**(current.model_dump() | changes))
    with console.status(f"moving {name}…"):
        _show(target.update(name, request))


@app.command()
def promote(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Make the canary the only version served."""
    _show(_target_of(name).promote(name))


@app.command()
def rollback(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Drop the canary; without one, go back to the version served before the last change."""
    _show(_target_of(name).rollback(name))


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    tail: Annotated[int, typer.Option(help="Lines from the end.")] = 50,
) -> None:
    """The end of a local endpoint's server log."""
    console.print(_local().logs(name, tail), markup=False, highlight=False)


@app.command()
def start(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Start a stopped local endpoint again (same port, same token)."""
    _show(_local().start(name))


@app.command()
def stop(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Stop a local endpoint gracefully: readiness goes false, in-flight requests finish, then it exits."""
    _show(_local().stop(name))


@app.command()
def delete(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Stop an endpoint and forget it (its history is kept)."""
    target = _target_of(name)
    target.delete(name)
    console.print(f"deleted {name}")


@app.command()
def token(name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Issue a new bearer token for an endpoint (shown once); the old one stops working."""
    endpoint = _target_of(name).rotate_token(name)
    console.print(f"new token for {name} (shown once, keep it): [bold]{endpoint.token}[/]")
