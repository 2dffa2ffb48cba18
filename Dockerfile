# Two images from one file.
#
# `runtime` (the default, last stage): every component task runs in it on Kubeflow (the workspace's
# `runtime_image`), and so do the studio, the MLflow server and the log receiver on a cluster.
#
#   make image IMAGE=registry.example.com/tessera/runtime:0.1.0
#
# `serve`: an endpoint's predictor only (the model server, MLflow, ONNX Runtime, object storage), no
# studio, Spark, Java, PyTorch, Feast or JupyterLab, for the `--runtime tessera` predictor pods.
#
#   make serve-image SERVE_IMAGE=registry.example.com/tessera/serve:0.1.0
#
# Push them, then pin the digests in the overlay (KFP caches on the image string: a moved tag must
# not give stale cache hits). TORCH_INDEX picks PyTorch's build: the CPU wheels by default; a CUDA
# index (e.g. https://download.pytorch.org/whl/cu128) for GPU node pools.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    MLFLOW_DISABLE_TELEMETRY=true
WORKDIR /opt/tessera
COPY pyproject.toml constraints.txt README.md ./
COPY tessera ./tessera
COPY pipelines ./pipelines
COPY component_store ./component_store
COPY serving ./serving
COPY studio ./studio
COPY examples ./examples
RUN useradd --uid 1000 --create-home tessera && mkdir /workspace && chown tessera /workspace

FROM base AS serve
RUN pip install -c constraints.txt ".[serve,cloud]"
USER 1000
WORKDIR /workspace
EXPOSE 8080
CMD ["python", "-m", "serving.model_server", "--help"]

FROM base AS runtime
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64
# Java for Spark; nothing else from the OS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --extra-index-url "$TORCH_INDEX" -c constraints.txt ".[all,mlflow-server]"
USER 1000
WORKDIR /workspace
EXPOSE 8501 8080 5000 8888
CMD ["tessera", "--help"]
