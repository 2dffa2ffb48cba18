"""A PyTorch MLP for tabular data: the model, its training loop and its MLflow pyfunc form.

The network standardises its own inputs (means and scales are buffers of the module),
so a served model takes raw feature values like the scikit-learn models do. Training
is deterministic for a seed on the CPU, stops early on a validation split and weighs
rare classes up on request. `train_torch_tabular` is the component around it.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel


@dataclass(frozen=True)
class MLPConfig:
    """The network's shape and what it predicts."""

    task: str  # classification | regression
    n_features: int
    n_outputs: int  # 1 for binary classification and regression, else the number of classes
    hidden_sizes: tuple[int, ...] = (64, 32)
    dropout: float = 0.1
    classes: tuple[Any, ...] = field(default_factory=tuple)


def require_torch(component: str) -> Any:
    try:
        import torch
    except ImportError:
        raise RuntimeError(
            f"PyTorch is needed for '{component}'; install it with: pip install \"tessera[torch]\""
        ) from None
    return torch


def build_network(config: MLPConfig, mean: np.ndarray, scale: np.ndarray) -> Any:
    """An `nn.Module`: standardise → [Linear → ReLU → Dropout]* → Linear."""
    import torch
    from torch import nn

    class TabularMLP(nn.Module):
        mean: torch.Tensor
        scale: torch.Tensor

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
            self.register_buffer("scale", torch.tensor(scale, dtype=torch.float32))
            layers: list[nn.Module] = []
            width = config.n_features
            for hidden in config.hidden_sizes:
                layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(config.dropout)]
                width = hidden
            layers.append(nn.Linear(width, config.n_outputs))
            self.layers = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.layers((x - self.mean) / self.scale)

    return TabularMLP()


@dataclass
class TrainingResult:
    network: Any
    config: MLPConfig
    device: str
    epochs_run: int
    best_epoch: int
    history: list[dict[str, float]]

    @property
    def seconds_per_epoch(self) -> float:
        return float(np.mean([h["seconds"] for h in self.history])) if self.history else 0.0


def pick_device(requested: str) -> str:
    """'cuda' when asked for or available ('auto'), else 'cpu'; says so when a GPU was wanted but is missing."""
    import torch

    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        print("note: a GPU was requested, but CUDA is not available here: training on the CPU")
    return "cpu"


def train_mlp(
    features: pd.DataFrame,
    target: pd.Series,
    task: str,
    hidden_sizes: list[int],
    dropout: float,
    learning_rate: float,
    epochs: int,
    batch_size: int,
    patience: int,
    validation_share: float,
    class_weight: str,
    seed: int,
    device: str,
) -> TrainingResult:
    """Fit the MLP with Adam; keeps the weights of the epoch with the lowest validation loss."""
    import torch
    from sklearn.model_selection import train_test_split

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    x = features.to_numpy(dtype=np.float32)
    classes: tuple[Any, ...] = ()
    if task == "classification":
        classes = tuple(np.unique(target).tolist())
        if len(classes) < 2:
            raise ValueError(f"the label has one class only ({classes}); a classifier needs two or more")
        y = np.searchsorted(np.array(classes), target.to_numpy())
    else:
        y = target.to_numpy(dtype=np.float32)
    stratify = y if task == "classification" else None
    x_fit, x_val, y_fit, y_val = train_test_split(
        x, y, test_size=validation_share, random_state=seed, stratify=stratify
    )
    scale = x_fit.std(axis=0)
    config = MLPConfig(
        task=task,
        n_features=x.shape[1],
        n_outputs=1 if task == "regression" or len(classes) == 2 else len(classes),
        hidden_sizes=tuple(hidden_sizes),
        dropout=dropout,
        classes=classes,
    )
    network = build_network(config, x_fit.mean(axis=0), np.where(scale > 0, scale, 1.0)).to(device)
    loss_fn = _loss(config, y_fit, class_weight, device)
    optimizer = torch.optim.Adam(network.parameters(), lr=learning_rate)
    fit_x, fit_y = _tensors(x_fit, y_fit, config, device)
    val_x, val_y = _tensors(x_val, y_val, config, device)
    generator = torch.Generator().manual_seed(seed)
    best_loss, best_state, best_epoch, history = float("inf"), None, 0, []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        network.train()
        order = torch.randperm(len(fit_x), generator=generator).to(device)
        total = torch.zeros((), device=device)  # summed on the device: no GPU sync per batch
        for start in range(0, len(fit_x), batch_size):
            batch = order[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(network(fit_x[batch]), fit_y[batch])
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(batch)
        network.eval()
        with torch.no_grad():
            val_loss = float(loss_fn(network(val_x), val_y))
        if device == "cuda":
            torch.cuda.synchronize()
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(total) / len(fit_x),
                "val_loss": val_loss,
                "seconds": time.perf_counter() - started,
            }
        )
        if val_loss < best_loss - 1e-6:
            best_loss, best_state, best_epoch = val_loss, copy.deepcopy(network.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return TrainingResult(network.cpu(), config, device, len(history), best_epoch, history)


def _loss(config: MLPConfig, y: np.ndarray, class_weight: str, device: str) -> Any:
    import torch
    from torch import nn

    if config.task == "regression":
        return nn.MSELoss()
    counts = np.bincount(y, minlength=len(config.classes)).astype(np.float64)
    weights = counts.sum() / (len(counts) * np.maximum(counts, 1)) if class_weight == "balanced" else None
    if config.n_outputs == 1:
        pos_weight = None if weights is None else torch.tensor([weights[1] / weights[0]], dtype=torch.float32)
        return nn.BCEWithLogitsLoss(pos_weight=None if pos_weight is None else pos_weight.to(device))
    weight = None if weights is None else torch.tensor(weights, dtype=torch.float32).to(device)
    return nn.CrossEntropyLoss(weight=weight)


def _tensors(x: np.ndarray, y: np.ndarray, config: MLPConfig, device: str) -> tuple[Any, Any]:
    import torch

    features = torch.tensor(x, dtype=torch.float32, device=device)
    if config.task == "regression" or config.n_outputs == 1:
        return features, torch.tensor(y, dtype=torch.float32, device=device).reshape(-1, 1)
    return features, torch.tensor(y, dtype=torch.long, device=device)


def predict(network: Any, config: MLPConfig, features: pd.DataFrame | np.ndarray) -> np.ndarray:
    """Regression: values. Binary: P(second class). Multiclass: one probability column per class."""
    import torch

    x = torch.tensor(np.asarray(features, dtype=np.float32))
    with torch.no_grad():
        out = network(x)
    if config.task == "regression":
        return out.reshape(-1).numpy().astype(np.float64)
    if config.n_outputs == 1:
        return torch.sigmoid(out).reshape(-1).numpy().astype(np.float64)
    return torch.softmax(out, dim=1).numpy().astype(np.float64)


def save_network(result: TrainingResult, folder: Path) -> dict[str, str]:
    """Weights and config files for the pyfunc model's artifacts."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.save(result.network.state_dict(), folder / "weights.pt")
    (folder / "config.json").write_text(json.dumps(asdict(result.config)))
    return {"weights": str(folder / "weights.pt"), "config": str(folder / "config.json")}


class TorchTabularModel(PythonModel):
    """The MLflow pyfunc form: `predict(DataFrame)` gives what `predict` above gives."""

    def load_context(self, context: Any) -> None:
        import torch

        raw = json.loads(Path(context.artifacts["config"]).read_text())
        raw["hidden_sizes"] = tuple(raw["hidden_sizes"])
        raw["classes"] = tuple(raw["classes"])
        self.config = MLPConfig(**raw)
        state = torch.load(context.artifacts["weights"], map_location="cpu", weights_only=True)
        self.network = build_network(self.config, state["mean"].numpy(), state["scale"].numpy())
        self.network.load_state_dict(state)
        self.network.eval()

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        return predict(self.network, self.config, model_input)


def train_and_log_mlp(
    train: Any, model: Any, metrics: Any, label: str, task: str, settings: dict[str, Any]
) -> TrainingResult:
    """Train on a Dataset artifact, log the pyfunc model (signature, lineage) to MLflow, fill the artifacts."""
    import tempfile

    import mlflow
    import torch
    from mlflow.models import infer_signature

    from component_store.runtime.models import features_and_label
    from component_store.runtime.tables import read_table
    from component_store.runtime.tracking import file_fingerprint, fingerprint_of, lineage_tags, start_tracking
    from serving.predictor import contract_metadata

    require_torch("train_torch_tabular")
    drop = list(settings.pop("drop_columns"))
    features, target = features_and_label(read_table(train), label, drop)
    device = pick_device(settings.pop("device"))
    print(f"training on {device}" + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else ""))
    result = train_mlp(features.astype("float64"), target, task, device=device, **settings)
    data_fingerprint = file_fingerprint(train.path)
    start_tracking()
    with mlflow.start_run(run_name="train_torch_tabular", tags=lineage_tags(data_fingerprint)) as run:
        mlflow.log_params({"family": "torch_mlp", "label": label, "device": device, **settings})
        for step in result.history:
            mlflow.log_metrics({k: step[k] for k in ("train_loss", "val_loss")}, step=int(step["epoch"]))
        mlflow.log_metrics({"best_epoch": result.best_epoch, "seconds_per_epoch": result.seconds_per_epoch})
        sample = features.head(200)
        signature = infer_signature(sample, predict(result.network, result.config, sample))
        with tempfile.TemporaryDirectory() as tmp:
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=TorchTabularModel(),
                artifacts=save_network(result, Path(tmp)),
                signature=signature,
                input_example=features.head(3),
                pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}"],
                metadata=contract_metadata(task, result.config.classes),
            )
    mlflow.artifacts.download_artifacts(artifact_uri=info.model_uri, dst_path=model.path)
    model.metadata.update(
        {
            "model_uri": info.model_uri,
            "flavor": "pyfunc",
            "task": task,
            "features": list(features.columns),
            "mlflow_run_id": run.info.run_id,
            "label": label,
            "family": "torch_mlp",
            "params": settings,
            "device": device,
            "data_fingerprint": data_fingerprint,
            "lineage": lineage_tags(data_fingerprint),
            "model_fingerprint": fingerprint_of(data_fingerprint, task, "torch_mlp", sorted(settings.items()), drop),
        }
    )
    metrics.log_metric("best_epoch", result.best_epoch)
    metrics.log_metric("epochs_run", result.epochs_run)
    metrics.log_metric("best_val_loss", round(min(h["val_loss"] for h in result.history), 6))
    metrics.log_metric("seconds_per_epoch", round(result.seconds_per_epoch, 4))
    metrics.metadata["device"] = device
    return result
