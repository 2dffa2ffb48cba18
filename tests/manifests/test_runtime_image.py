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
    stages = dict(re.findall(r"^FROM \S+ AS (\w+)\n(.*?)(?=^FROM |\Z)", text, re.MULTILINE | re.DOTALL))
    assert list(stages) == ["base", "serve", "runtime"], "the runtime image is the default (last) stage"
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    install = re.search(r'pip install .*"\.\[([a-z,-]+)\]"', stages["runtime"])
    assert install and set(install.group(1).split(",")) == {"all", "mlflow-server"}, (
        "every face's extras, object storage (s3fs, gcsfs, boto3), MLflow's basic-auth app for the server, and "
        "JupyterLab (the image doubles as a Kubeflow Notebooks image, docs/deploy.md)"
    )
    everything = extras["all"][0].split("[")[1].rstrip("]").split(",")
    assert set(everything) == set(extras) - {"all", "dev", "mlflow-server"}, "`all` is every face"
    slim = re.search(r'pip install .*"\.\[([a-z,-]+)\]"', stages["serve"])
    assert slim and set(slim.group(1).split(",")) == {"serve", "cloud"}, "the predictor image: no studio, Spark, torch"
    assert "openjdk" not in stages["serve"] and "USER 1000" in stages["serve"]
    assert "-c constraints.txt" in text, "the image installs the same pinned versions as CI"
    assert "openjdk-17-jre-headless" in stages["runtime"], "Spark components need Java"
    assert "USER 1000" in stages["runtime"], "components run as a non-root user"
