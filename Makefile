# Tessera's developer entry points. Every target installs what it needs first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
DEMO ?= demo-workspace

.PHONY: install studio demo test test-slow test-all lint bench image serve-image clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,all]"
	touch $(STAMP)

install: $(STAMP)

## The studio on the embedded defaults with the demo project: http://127.0.0.1:8501 (MLflow UI on :5000).
studio: install
	@test -f $(DEMO)/tessera.yaml || $(BIN)/tessera init $(DEMO) --demo
	cd $(DEMO) && ../$(BIN)/tessera up

## The demo on the embedded defaults: a workspace with the demo project; validate, compile for Kubeflow,
## run it locally (data -> tuned model -> champion gate -> MLflow registry) and show the registered model.
demo: install
	@test -f $(DEMO)/tessera.yaml || $(BIN)/tessera init $(DEMO) --demo
	cd $(DEMO) && ../$(BIN)/tessera workflow validate cheater_detection player_features
	cd $(DEMO) && ../$(BIN)/tessera workflow compile cheater_detection -o cheater_detection.kfp.yaml
	cd $(DEMO) && ../$(BIN)/tessera run cheater_detection
	cd $(DEMO) && ../$(BIN)/tessera models show cheater-detector

## The test suite of every local loop: everything but the tests marked slow (real browsers, fresh installs,
## whole demo journeys), which CI runs after it (make test-slow); make test-all runs both at once.
test: install
	$(BIN)/pytest -m "not slow"

test-slow: install
	$(BIN)/pytest -m slow

test-all: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install
	$(BIN)/python benchmarks/compile_workflow.py
	$(BIN)/python benchmarks/local_runner.py
	$(BIN)/python benchmarks/tuning.py
	$(BIN)/python benchmarks/serving.py
	$(BIN)/python benchmarks/studio.py
	$(BIN)/python benchmarks/spark_features.py

## The runtime image (Dockerfile) where a Docker engine exists: make image IMAGE=registry/tessera/runtime:TAG
IMAGE ?= tessera/runtime:0.1.0
image:
	@docker info >/dev/null 2>&1 || { echo "make image needs a running Docker engine; build the Dockerfile where there is one"; exit 2; }
	docker build --target runtime -t $(IMAGE) .

## The slim predictor image (no studio, Spark, Java, PyTorch): make serve-image SERVE_IMAGE=registry/tessera/serve:TAG
SERVE_IMAGE ?= tessera/serve:0.1.0
serve-image:
	@docker info >/dev/null 2>&1 || { echo "make serve-image needs a running Docker engine; build the Dockerfile where there is one"; exit 2; }
	docker build --target serve -t $(SERVE_IMAGE) .

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache .mypy_cache .ruff_cache
