"""The `serve` face installs alone: a fresh virtual environment with `pip install ".[serve]"` (the slim
predictor image's install, without the studio, Spark, PyTorch, Feast or JupyterLab) starts an endpoint's
model server for a version registered elsewhere and answers a prediction; the CLI's help works there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tessera.ports import free_port

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
SOURCES = ["pyproject.toml", "constraints.txt", "README.md", "tessera", "pipelines", "component_store", "serving",
           "studio"]  # fmt: skip


def test_serve_alone_installs_in_a_fresh_venv_and_serves_a_registered_version(tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    import tessera
    from serving.tokens import new_token, token_hash
    from tessera.workspace import init_workspace

    source = tmp_path / "source"  # a copy: building the wheel leaves nothing in the checkout
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, source / name)
    venv = tmp_path / "serve-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-c", "constraints.txt", ".[serve]"],
        cwd=source, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    absent = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print([m for m in ('streamlit', 'torch', 'pyspark', 'feast', "
         "'jupyterlab', 'optuna') if u.find_spec(m)])"], capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    assert absent == "[]", f"the serve face pulled in {absent}"
    helped = subprocess.run([str(venv / "bin" / "tessera"), "--help"], capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "endpoint" in helped.stdout, helped.stderr[-2000:]

    workspace = init_workspace(tmp_path / "ws")
    data = load_diabetes(as_frame=True).frame
    features = data.drop(columns="target")
    tessera.open(workspace.root).models.register(Ridge().fit(features, data["target"]), "diabetes", features=features)
    token, port = new_token(), free_port()
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TESSERA_", "VIRTUAL_ENV", "PYTHON"))
    } | {"MLFLOW_TRACKING_URI": workspace.tracking_uri(), "TESSERA_TOKEN_HASH": token_hash(token)}
    server = subprocess.Popen(
        [str(python), "-m", "serving.model_server", "--standalone", "diabetes-api", "--model", "diabetes/1",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        assert server.poll() is None, server.stdout.read().decode()[-3000:] if server.stdout else ""
        answer = httpx.post(
            f"{url}/v1/models/diabetes-api:predict", json={"instances": features.head(3).to_numpy().tolist()},
            headers={"Authorization": f"Bearer {token}"}, timeout=30,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text[:500]
        assert len(answer.json()["predictions"]) == 3
    finally:
        server.terminate()
        server.wait(30)
