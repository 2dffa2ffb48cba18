from kfp.dsl import Artifact, Input, Metrics, Model, Output

from component_store.decorator import component


@component(
    name="register_model", version="1.1.0", category="model", tags=["registry", "mlflow", "alias"], owner="platform"
)
def register_model(
    model: Input[Model],
    metrics: Input[Metrics],
    registered: Output[Artifact],
    model_name: str,
    alias: str = "challenger",
    champion_if_none: bool = True,
    raw_inputs: bool = True,
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
        raw_inputs: serve the version on the raw columns: the fitted transforms that made the training table
            (fill_missing, encode_categorical, scale_numeric, select_columns) run before the model, exactly as in
            training; false serves the model on its own (encoded) columns.
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
    pipeline = None
    if raw_inputs and info.get("preprocessing"):
        from serving.inference_pipeline import InferencePipeline, NotServable

        excluded = [info.get("label", ""), *info.get("drop_columns", [])]
        try:
            pipeline = InferencePipeline.compose(info["preprocessing"], info["features"], excluded)
        except NotServable as exc:
            raise ValueError(
                f"register_model: the inference pipeline cannot be built: {exc}; fix that step (e.g. fill_missing "
                "with median instead of drop_rows) or set raw_inputs to false to serve the model on its own columns"
            ) from None
        tags["tessera.inputs"] = "raw"
    start_tracking()
    if pipeline is not None:
        from mlflow import MlflowClient

        from serving.inference_pipeline import ARTIFACT

        MlflowClient().log_text(info["mlflow_run_id"], pipeline.as_text(), ARTIFACT)
    version, created = ModelRegistry().register(info["model_uri"], model_name, tags, alias, champion_if_none)
    import json

    summary = {
        "name": model_name,
        "version": version.version,
        "aliases": list(version.aliases),
        "created": created,
        "model_uri": f"models:/{model_name}/{version.version}",
        "inputs": list(pipeline.raw.columns) if pipeline else info.get("features", []),
    }
    with open(registered.path, "w") as handle:
        json.dump(summary, handle)
    registered.metadata.update(summary)
