from kfp.dsl import Artifact, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="register_model", version="1.0.0", category="model", tags=["registry", "mlflow", "alias"], owner="platform"
)
def register_model(
    model: Input[Model],
    metrics: Input[Metrics],
    registered: Output[Artifact],
    model_name: str,
    alias: str = "challenger",
    champion_if_none: bool = True,
):
    """Register a model version in MLflow with its lineage and test metrics, and point an alias at it.

    Registering the same model again (same data, family, parameters and seed) reuses
    its version instead of adding a duplicate. The first version of a model also
    becomes `champion` unless told otherwise.

    Args:
        model: the model to register (usually the champion gate's approved output).
        metrics: its test-set metrics, stored on the version as tessera.metric.* tags.
        registered: the registered name, version and alias.
        model_name: the registered model's name, e.g. cheater-detector.
        alias: the alias to point at this version (challenger, champion…).
        champion_if_none: also make it champion when the model has no champion yet.
    """
    from component_store.runtime.tracking import start_tracking
    from serving.model_registry import FINGERPRINT_TAG, ModelRegistry

    info = model.metadata
    tags = dict(info.get("lineage", {}))
    tags[FINGERPRINT_TAG] = info["model_fingerprint"]
    tags["tessera.training_run"] = info["mlflow_run_id"]
    tags["tessera.family"] = info["family"]
    for name, value in metrics.metadata.items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            tags[f"tessera.metric.{name}"] = str(value)
    start_tracking()
    version, created = ModelRegistry().register(info["model_uri"], model_name, tags, alias, champion_if_none)
    import json

    summary = {
        "name": model_name,
        "version": version.version,
        "aliases": list(version.aliases),
        "created": created,
        "model_uri": f"models:/{model_name}/{version.version}",
    }
    with open(registered.path, "w") as handle:
        json.dump(summary, handle)
    registered.metadata.update(summary)
