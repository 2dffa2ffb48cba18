from typing import Annotated, Literal

from kfp.dsl import Dataset, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="train_torch_tabular",
    version="1.0.0",
    category="train",
    tags=["pytorch", "gpu", "mlp", "mlflow", "classification", "regression"],
    owner="platform",
)
def train_torch_tabular(
    train: Input[Dataset],
    model: Output[Model],
    metrics: Output[Metrics],
    label: str,
    task: Literal["classification", "regression"] = "classification",
    hidden_sizes: list = [64, 32],
    dropout: Annotated[float, (0.0, 0.9)] = 0.1,
    learning_rate: Annotated[float, (0.00001, 1.0)] = 0.001,
    epochs: Annotated[int, (1, 10000)] = 100,
    batch_size: Annotated[int, (1, 1_000_000)] = 256,
    patience: Annotated[int, (1, 1000)] = 10,
    validation_share: Annotated[float, (0.05, 0.5)] = 0.2,
    class_weight: Literal["none", "balanced"] = "balanced",
    drop_columns: list = [],
    device: Literal["auto", "cpu", "cuda"] = "auto",
    seed: int = 42,
):
    """Train a PyTorch neural network (MLP) on a table, on the GPU when there is one, and log it to MLflow.

    The network standardises its inputs itself, so it is served on raw feature values
    like any other model. Training stops when the validation loss has not improved for
    `patience` epochs and keeps the best epoch's weights. Give the node a GPU
    (resources: gpu: 1) to train on one on Kubeflow; without a GPU it trains on the CPU.

    Args:
        train: the training rows; every column but the label and drop_columns must be numeric.
        model: the trained network as an MLflow pyfunc model (signature included), also logged to MLflow.
        metrics: best epoch, epochs run, best validation loss, seconds per epoch.
        label: the label column.
        task: classification (binary or multiclass) or regression.
        hidden_sizes: units per hidden layer, e.g. [64, 32].
        dropout: share of units dropped in training, against overfitting.
        learning_rate: Adam's learning rate.
        epochs: most passes over the training rows.
        batch_size: rows per gradient step.
        patience: epochs without a better validation loss before stopping.
        validation_share: share of rows held out to choose the best epoch.
        class_weight: balanced weighs rare classes up (cheaters); none treats every row alike.
        drop_columns: columns that are not features, such as ids and timestamps.
        device: auto uses CUDA when available; cuda asks for it (CPU with a note when missing); cpu never uses a GPU.
        seed: random seed: the same seed gives the same network on the CPU.
    """
    from component_store.runtime.torch_tabular import train_and_log_mlp

    if not hidden_sizes or any(int(h) < 1 for h in hidden_sizes):
        raise ValueError(f"hidden_sizes must list one or more positive layer widths, e.g. [64, 32]; got {hidden_sizes}")
    settings = {
        "hidden_sizes": [int(h) for h in hidden_sizes],
        "dropout": dropout,
        "learning_rate": learning_rate,
        "epochs": epochs,
        "batch_size": batch_size,
        "patience": patience,
        "validation_share": validation_share,
        "class_weight": class_weight,
        "seed": seed,
        "drop_columns": list(drop_columns),
        "device": device,
    }
    result = train_and_log_mlp(train, model, metrics, label, task, settings)
    print(f"trained {result.epochs_run} epochs on {result.device}; best epoch {result.best_epoch}")
