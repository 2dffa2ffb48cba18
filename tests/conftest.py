"""Shared fixtures: real data on disk as KFP artifacts, the built-in store, a demo workspace."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from kfp.dsl import Artifact, Dataset, Markdown

from component_store.store import BUILTIN_STORE, ComponentStore
from studio.demo import DEMO_WORKSPACE
from tessera.workspace import Workspace, load_workspace

REPO = Path(__file__).resolve().parents[1]


pytest_plugins = ["tests.serving.fixtures"]


@pytest.fixture(scope="session")
def store() -> ComponentStore:
    return ComponentStore()


@pytest.fixture
def tmp_store(tmp_path: Path) -> ComponentStore:
    """A writable copy of the built-in store, for publish tests."""
    root = tmp_path / "store"
    shutil.copytree(BUILTIN_STORE, root)
    return ComponentStore(root)


@pytest.fixture
def demo_workspace(tmp_path: Path) -> Iterator[Workspace]:
    root = tmp_path / "demo"
    shutil.copytree(DEMO_WORKSPACE, root, ignore=shutil.ignore_patterns(".tessera"))
    workspace = load_workspace(root)
    yield workspace
    if (workspace.state_dir / "endpoints.db").exists():  # the demo ends in a live endpoint: stop what a test started
        from serving.local_target import LocalProcessTarget

        endpoints = LocalProcessTarget(workspace, drain_seconds=0.1)
        for endpoint in endpoints.list():
            endpoints.delete(endpoint.name)


@pytest.fixture
def demo_spec(demo_workspace: Workspace) -> Any:
    """The whole demo: data, tuning, evaluation, champion gate, registration, endpoint."""
    from pipelines.workflow_io import parse_workflow

    return parse_workflow(demo_workspace.find_workflow("cheater_detection").read_text())


@pytest.fixture
def dataset(tmp_path: Path) -> Callable[[pd.DataFrame, str], Dataset]:
    """Write a DataFrame as a Parquet Dataset artifact, as an upstream node would."""

    def make(frame: pd.DataFrame, name: str = "input") -> Dataset:
        artifact = Dataset(name=name, uri=str(tmp_path / f"{name}.parquet"))
        frame.to_parquet(artifact.path, index=False)
        return artifact

    return make


@pytest.fixture
def output(tmp_path: Path) -> Callable[..., Artifact]:
    """An empty output artifact of a given KFP type, as the executor hands one to a component."""

    def make(name: str, kind: type[Artifact] = Dataset) -> Artifact:
        folder = tmp_path / "outputs"
        folder.mkdir(exist_ok=True)
        suffix = ".md" if kind is Markdown else ""
        return kind(name=name, uri=str(folder / f"{name}{suffix}"))

    return make


POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL that runs on this machine; CI sets TESSERA_REQUIRE_POSTGRES=1 so it never skips there."""
    import os

    import sqlalchemy

    url = os.environ.get("TESSERA_TEST_POSTGRES_URL", POSTGRES_URL)
    try:
        engine = sqlalchemy.create_engine(url)
        with engine.connect():
            pass
        engine.dispose()
    except sqlalchemy.exc.OperationalError as exc:
        if os.environ.get("TESSERA_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required at {url}: {exc}")
        pytest.skip(f"no PostgreSQL at {url}")
    return url


@pytest.fixture
def fresh_postgres_url(postgres_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on this machine's server, dropped afterwards."""
    import uuid

    import sqlalchemy

    database = f"tessera_test_{uuid.uuid4().hex[:8]}"
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"CREATE DATABASE {database}")
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{database}"
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        admin.dispose()


@pytest.fixture
def mlflow_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """What the runner gives a component: a workspace tracking store, artifact folder, Optuna storage, lineage."""
    state = tmp_path / ".tessera"
    state.mkdir(exist_ok=True)
    uri = f"sqlite:///{state / 'mlflow.db'}"
    for key, value in {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "TESSERA_MLFLOW_ARTIFACTS": (state / "mlartifacts").as_uri(),
        "TESSERA_OPTUNA_STORAGE": f"sqlite:///{state / 'optuna.db'}",
        "TESSERA_WORKFLOW": "risk/test",
        "TESSERA_RUN_ID": "run-1",
        "TESSERA_NODE": "train",
        "TESSERA_COMPONENT": "train_classifier@1.0.0",
        "TESSERA_PARAMS_DIGEST": "abc",
    }.items():
        monkeypatch.setenv(key, value)
    import mlflow

    mlflow.set_tracking_uri(uri)  # MLflow keeps the last URI set in-process; start each test on its own store
    return uri


@pytest.fixture(scope="session")
def cancer_split(tmp_path_factory: pytest.TempPathFactory) -> tuple[Dataset, Dataset]:
    """breast_cancer as train and test Dataset artifacts (label: target)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    folder = tmp_path_factory.mktemp("cancer")
    frame = load_breast_cancer(as_frame=True).frame
    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])
    artifacts = []
    for name, part in (("train", train), ("test", test)):
        artifact = Dataset(name=name, uri=str(folder / f"{name}.parquet"))
        part.reset_index(drop=True).to_parquet(artifact.path, index=False)
        artifacts.append(artifact)
    return artifacts[0], artifacts[1]


@pytest.fixture(scope="session")
def redis_url():
    """The Redis that runs on this machine; CI sets TESSERA_REQUIRE_REDIS=1 so it never skips there."""
    import os

    import redis

    url = os.environ.get("TESSERA_TEST_REDIS", "127.0.0.1:6379")
    try:
        redis.Redis.from_url(f"redis://{url}").ping()
    except redis.ConnectionError as exc:
        if os.environ.get("TESSERA_REQUIRE_REDIS") == "1":
            pytest.fail(f"Redis is required at {url}: {exc}")
        pytest.skip(f"no Redis at {url}")
    return url


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A webhook on loopback that keeps what it is sent."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, list[str]]]:
    """An SMTP server on loopback (plain SMTP, no TLS) that keeps every message it is sent, as text."""
    import socketserver
    import threading

    messages: list[str] = []

    class Session(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 localhost test SMTP\r\n")
            while line := self.rfile.readline():
                command = line.decode(errors="replace").strip().upper()
                if command.startswith(("EHLO", "HELO")):
                    self.wfile.write(b"250 localhost\r\n")
                elif command == "DATA":
                    self.wfile.write(b"354 end with .\r\n")
                    body = []
                    while (data := self.rfile.readline()) not in (b".\r\n", b""):
                        body.append(data.decode(errors="replace"))
                    messages.append("".join(body))
                    self.wfile.write(b"250 queued\r\n")
                elif command == "QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:  # MAIL FROM, RCPT TO, RSET, NOOP
                    self.wfile.write(b"250 ok\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], messages
    server.shutdown()


S3_SECRET = "tessera-test-secret-key-9f2"


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """One moto S3 server on 127.0.0.1 for the session (clients cache their endpoint); its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The S3 server with an empty bucket `risk-data` and the environment pointing at it; its URL."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "tessera-test", "AWS_SECRET_ACCESS_KEY": S3_SECRET, "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_server, "MLFLOW_S3_ENDPOINT_URL": s3_server,
    }.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    import boto3

    bucket = boto3.resource("s3").Bucket("risk-data")
    if bucket.creation_date is None:
        bucket.create()
    bucket.objects.all().delete()
    return s3_server
