"""A workspace: the folder a team works in.

    my-workspace/
      tessera.yaml                      name and settings (WorkspaceConfig)
      projects/<project>/workflows/     one YAML file per workflow
      .tessera/                         state: runs, artifacts, mlflow.db (not for git)

Commands find the workspace from the current folder upward, or from `TESSERA_HOME`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tessera.errors import WorkspaceError
from tessera.suggest import did_you_mean

CONFIG_FILE = "tessera.yaml"
STATE_DIR = ".tessera"
DEFAULT_RUNTIME_IMAGE = "tessera/runtime:0.1.0"


class KubeflowSettings(BaseModel):
    """Where workflows run when they run on Kubeflow Pipelines (the `kubeflow:` section of `tessera.yaml`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(
        min_length=1,
        description="KFP API endpoint, e.g. https://kubeflow.example.com/pipeline or http://ml-pipeline.kubeflow:8888",
    )
    namespace: str = Field(default="kubeflow", description="the profile namespace runs go to: one per project or team")
    ui_host: str = Field(default="", description="the Kubeflow UI's address for run links; the host when empty")
    token_env: str = Field(
        default="KF_PIPELINES_TOKEN",
        description="environment variable with a bearer token; unset, a pod uses its projected service-account token",
    )
    service_account: str = Field(default="", description="Kubernetes service account the run's pods use")
    pipeline_root: str = Field(
        default="", description="where KFP keeps artifacts, e.g. minio://mlpipeline/v2/artifacts"
    )


class TeamStoreConfig(BaseModel):
    """A team component store: a folder (meant to live in git) of source components, their tests and
    the frozen versions published from them, and who may approve a version."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(default="team", pattern=r"^[a-z][a-z0-9-]*$")
    path: str = Field(default="components", description="folder, relative to the workspace")
    approvers: tuple[str, ...] = Field(
        default=(), description="who may approve a version: TESSERA_USER names or git user.email addresses"
    )


class RetrainAction(BaseModel):
    """What a monitor starts when its endpoint's data drifts: a workflow run with parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    run: str = Field(min_length=1, description="the workflow: PROJECT/NAME or NAME")
    params: dict[str, Any] = Field(default_factory=dict)


class MonitorConfig(BaseModel):
    """A drift monitor on an endpoint (`monitors:` in tessera.yaml), checked by `tessera up` and
    `tessera monitor check`; `on_drift` starts once per drift episode, never again until the drift ends."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    endpoint: str = Field(min_length=1)
    every: str = Field(default="1h", pattern=r"^\d+(\.\d+)?[smhd]$", description="how often to check, e.g. 1h")
    window: str = Field(default="24h", pattern=r"^\d+(\.\d+)?[smhd]$", description="the logged window compared")
    drift_share: float = Field(default=0.5, gt=0, le=1, description="the dataset drifts at this share of columns")
    on_drift: RetrainAction | None = None


class SmtpSettings(BaseModel):
    """Email alerts over SMTP; credentials are read from the environment variables named here."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(min_length=3)
    to: tuple[str, ...] = Field(min_length=1)
    starttls: bool = True
    username_env: str = ""
    password_env: str = ""


class AlertConfig(BaseModel):
    """Where alerts go (`alerts:` in tessera.yaml): a webhook (Slack-compatible JSON) and/or email."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    events: tuple[Literal["drift", "run_failed", "endpoint_crashed"], ...] = ("drift", "run_failed", "endpoint_crashed")
    webhook_env: str = Field(default="", description="environment variable holding the webhook URL (a secret)")
    email: SmtpSettings | None = None


class WorkspaceConfig(BaseModel):
    """The settings in `tessera.yaml`. Relative paths are relative to the workspace."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str = ""
    tracking_uri: str = Field(
        default=f"sqlite:///{STATE_DIR}/mlflow.db",
        description="MLflow tracking URI; SQLite in the workspace by default.",
    )
    store: str | None = Field(
        default=None,
        description="Folder of a component store (published/ + index.json); the built-in store when unset.",
    )
    runtime_image: str = Field(
        default=DEFAULT_RUNTIME_IMAGE,
        description="Container image every component runs in on Kubeflow (has this project installed).",
    )
    serving_image: str = Field(
        default="",
        description="Image for KServe predictor pods (`--runtime tessera`), e.g. the Dockerfile's slim `serve` "
        "stage; runtime_image when unset.",
    )
    kubeflow: KubeflowSettings | None = Field(
        default=None, description="Kubeflow Pipelines to run on (`tessera run --backend kubeflow`, schedules)."
    )
    stores: tuple[TeamStoreConfig, ...] = Field(
        default=(TeamStoreConfig(),),
        description="Team component stores, after the built-in one; the first is where `components new` writes.",
    )
    allow_unapproved: bool = Field(
        default=False, description="Let Kubeflow runs and schedules use component versions still in review."
    )
    members: dict[str, list[str]] = Field(
        default_factory=dict,
        description="With studio sign-in: project -> emails or @domains who may use it (see studio/access.py).",
    )
    monitors: tuple[MonitorConfig, ...] = Field(default=(), description="Drift monitors on endpoints.")
    prediction_log: str = Field(
        default="",
        description="Where KServe endpoints' prediction logs go (the log receiver's root), e.g. "
        "s3://risk-models/predictions; local endpoints log under .tessera/predictions.",
    )
    alerts: tuple[AlertConfig, ...] = Field(default=(), description="Where drift, failed runs and crashes are told.")


@dataclass(frozen=True)
class Workspace:
    """A workspace folder and its parsed configuration."""

    root: Path
    config: WorkspaceConfig

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR

    @property
    def projects_dir(self) -> Path:
        return self.root / "projects"

    def workflows_dir(self, project: str) -> Path:
        return self.projects_dir / project / "workflows"

    def projects(self) -> list[str]:
        if not self.projects_dir.is_dir():
            return []
        return sorted(p.name for p in self.projects_dir.iterdir() if p.is_dir())

    def workflow_files(self) -> Iterator[Path]:
        """Every workflow YAML file of every project, sorted."""
        yield from sorted(self.projects_dir.glob("*/workflows/*.yaml"))

    def tracking_uri(self) -> str:
        """The MLflow tracking URI with a relative SQLite path made absolute."""
        uri = self.config.tracking_uri
        prefix = "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str(self.root / uri[len(prefix) :])
        return uri

    @property
    def mlflow_artifacts(self) -> Path:
        """Where MLflow keeps artifacts (models, plots) for a local tracking store."""
        return self.state_dir / "mlartifacts"

    @property
    def optuna_storage(self) -> str:
        """The default Optuna storage: SQLite in the workspace."""
        return f"sqlite:///{self.state_dir / 'optuna.db'}"

    def component_environment(self) -> dict[str, str]:
        """Environment every component process gets: the workspace, where to track, store artifacts and tune."""
        return {
            "TESSERA_HOME": str(self.root),
            "MLFLOW_TRACKING_URI": self.tracking_uri(),
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
            "TESSERA_MLFLOW_ARTIFACTS": self.mlflow_artifacts.as_uri(),
            "TESSERA_OPTUNA_STORAGE": self.optuna_storage,
        }

    def resolve(self, path: str) -> Path:
        """A path from the config, made absolute against the workspace root."""
        candidate = Path(path)
        return candidate if candidate.is_absolute() else self.root / candidate

    def find_workflow(self, ref: str) -> Path:
        """A workflow file from a path, `project/name` or a bare `name`.

        Raises:
            WorkspaceError: when nothing matches, naming the workflows that exist.
        """
        direct = Path(ref)
        if direct.suffix in {".yaml", ".yml"} and direct.exists():
            return direct
        files = list(self.workflow_files())
        keys = {f"{f.parent.parent.name}/{f.stem}": f for f in files}
        if ref in keys:
            return keys[ref]
        by_name = [f for f in files if f.stem == ref]
        if len(by_name) == 1:
            return by_name[0]
        if len(by_name) > 1:
            options = ", ".join(sorted(k for k, f in keys.items() if f.stem == ref))
            raise WorkspaceError(f"Workflow '{ref}' is ambiguous; say which: {options}")
        raise WorkspaceError(
            f"No workflow '{ref}' in workspace {self.root}{did_you_mean(ref, list(keys))}; "
            f"known: {', '.join(sorted(keys)) or 'none (create one with: tessera workflow new)'}"
        )


def load_workspace(root: Path) -> Workspace:
    """Read `root/tessera.yaml`.

    Raises:
        WorkspaceError: when the file is missing or its settings are wrong.
    """
    config_path = root / CONFIG_FILE
    try:
        raw = yaml.safe_load(config_path.read_text()) or {}
    except FileNotFoundError as exc:
        raise WorkspaceError(
            f"{root} is not a Tessera workspace (no {CONFIG_FILE}); create one with: tessera init {root}"
        ) from exc
    except yaml.YAMLError as exc:
        raise WorkspaceError(f"{config_path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise WorkspaceError(f"{config_path} must be a mapping of settings, got {type(raw).__name__}")
    try:
        config = WorkspaceConfig.model_validate(raw)
    except ValidationError as exc:
        known = list(WorkspaceConfig.model_fields)
        messages = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"])
            hint = did_you_mean(key, known) if err["type"] == "extra_forbidden" else ""
            messages.append(f"'{key}': {err['msg']}{hint}")
        raise WorkspaceError(f"{config_path} has bad settings: " + "; ".join(messages)) from exc
    return Workspace(root=root.resolve(), config=config)


def find_workspace(start: Path | None = None) -> Workspace:
    """The workspace at `TESSERA_HOME`, or the nearest one from `start` (default: cwd) upward.

    Raises:
        WorkspaceError: when there is none, saying how to make one.
    """
    home = os.environ.get("TESSERA_HOME")
    if home:
        return load_workspace(Path(home))
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).is_file():
            return load_workspace(folder)
    raise WorkspaceError(
        f"No Tessera workspace in {here} or above it (looked for {CONFIG_FILE}). "
        "Create one with: tessera init, or set TESSERA_HOME."
    )


PREDICTION_LOG_ENV = "TESSERA_PREDICTION_LOG"


def task_workspace() -> Workspace:
    """The workspace a component runs in: `find_workspace()` on this machine, or for a Kubeflow task (which
    has no workspace folder) one made from its environment: MLflow's tracking URI and the prediction-log
    root (`TESSERA_PREDICTION_LOG`), with its state in a temporary folder."""
    try:
        return find_workspace()
    except WorkspaceError:
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            raise
    import tempfile

    config = WorkspaceConfig(
        name="task", tracking_uri=os.environ["MLFLOW_TRACKING_URI"],
        prediction_log=os.environ.get(PREDICTION_LOG_ENV, ""),
    )  # fmt: skip
    return Workspace(root=Path(tempfile.mkdtemp(prefix="tessera-task-")), config=config)


def init_workspace(root: Path, name: str | None = None) -> Workspace:
    """Create a workspace in `root` (made if missing); refuses to overwrite one.

    Example:
        >>> ws = init_workspace(Path("/tmp/ws"), name="risk-team")  # doctest: +SKIP
    """
    config_path = root / CONFIG_FILE
    if config_path.exists():
        raise WorkspaceError(f"{root} is already a Tessera workspace ({CONFIG_FILE} exists)")
    from tessera.identity import current_user

    # The one who creates a workspace approves its team store's components until tessera.yaml says otherwise.
    config = WorkspaceConfig(
        name=name or root.resolve().name or "workspace", stores=(TeamStoreConfig(approvers=(current_user(),)),)
    )
    root.mkdir(parents=True, exist_ok=True)
    (root / "projects").mkdir(exist_ok=True)
    (root / STATE_DIR).mkdir(exist_ok=True)
    if not (root / ".gitignore").exists():
        (root / ".gitignore").write_text(f"{STATE_DIR}/\n")
    body = config.model_dump(mode="json", exclude_defaults=True) | {
        "tracking_uri": config.tracking_uri,
        "stores": [store.model_dump(mode="json") for store in config.stores],
    }
    write_atomically(config_path, yaml.safe_dump(body, sort_keys=False))
    return Workspace(root=root.resolve(), config=config)


def write_atomically(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see the old or the new file, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
