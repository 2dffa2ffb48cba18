"""The runtime image's Dockerfile (no Docker engine here to build it): it copies every package
Tessera installs and installs the extras the components need."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_dockerfile_copies_every_package_and_installs_the_component_extras():
    text = (ROOT / "Dockerfile").read_text()
    copied = {line.split()[1] for line in text.splitlines() if line.startswith("COPY ")}
    for source in copied:
        assert (ROOT / source).exists(), f"Dockerfile copies {source}, which is not in the repository"
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in (p.rstrip("*") for p in packages):
        assert package in copied, f"the image would lack the '{package}' package"
    install = re.search(r'pip install .*"\.\[([a-z,-]+)\]"', text)
    assert install and set(install.group(1).split(",")) == {
        "spark",
        "feast",
        "torch",
        "cloud",
        "mlflow-server",
        "lab",
    }, (
        "components' extras, object storage (s3fs, gcsfs, boto3), MLflow's basic-auth app for the server, and "
        "JupyterLab (the image doubles as a Kubeflow Notebooks image, docs/deploy.md)"
    )
    assert "-c constraints.txt" in text, "the image installs the same pinned versions as CI"
    assert "openjdk-17-jre-headless" in text, "Spark components need Java"
    assert "USER 1000" in text, "components run as a non-root user"
