"""One registered model version loaded for serving, behind the predictor contract (serving/predictor.py).

`load_served_model("cheater-detector", "3")` reads the version's MLmodel (flavours, signature and
Tessera's output contract) and picks the adapter:

- scikit-learn flavour (LightGBM and XGBoost through their scikit-learn API) with a numeric
  signature: compiled to ONNX when the compiled model answers like the native one on the
  version's input example and validation sample, the native estimator otherwise (the report says why);
- scikit-learn flavour with other columns: the native estimator on a DataFrame;
- anything else: MLflow pyfunc, which enforces the signature itself.

Requests for numeric signatures are decoded straight into a float matrix in signature order
(serving/payloads.py), whichever adapter answers them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from serving.compiled import CompileReport
from serving.endpoints import FeatureLookup
from serving.inference_pipeline import InferencePipeline
from serving.payloads import FeatureSchema
from serving.predictor import (
    NativePredictor,
    Outputs,
    Predictor,
    PyfuncPredictor,
    contract_from_metadata,
    contract_of_estimator,
    tensor_datatype,
)

if TYPE_CHECKING:
    from serving.feature_lookup import LookupPlan

log = logging.getLogger("tessera.endpoint")
VALIDATION_SAMPLE = "tessera/validation_sample.parquet"  # written beside the model by the train components

__all__ = ["Outputs", "ServedModel", "compile_report", "feature_schema", "load_served_model", "tensor_datatype"]


@dataclass(frozen=True)
class ServedModel:
    """A loaded version and the adapter that answers for it."""

    model_name: str
    version: str
    flavour: str
    schema: FeatureSchema | None
    predictor: Predictor
    report: CompileReport | None = None
    pipeline: InferencePipeline | None = None  # takes the raw columns (records, nulls allowed) before the model
    lookup: LookupPlan | None = None  # scores by id: the rest of the columns come from Feast

    @property
    def raw_inputs(self) -> bool:
        return self.pipeline is not None

    @property
    def takes_matrix(self) -> bool:
        """Requests are decoded into a float matrix in signature order (numeric signatures, no pipeline)."""
        return self.schema is not None and self.schema.numeric and not self.raw_inputs and self.lookup is None

    @property
    def label(self) -> str:
        return f"{self.model_name}/{self.version}"

    @property
    def platform(self) -> str:
        return {"compiled": "onnxruntime", "native": f"mlflow-{self.flavour}"}.get(
            self.predictor.adapter, "mlflow-pyfunc"
        )

    def predict(self, rows: np.ndarray | list[Any]) -> Outputs:
        return self.predictor.predict(rows)

    @cached_property
    def outputs(self) -> list[dict[str, Any]]:
        """What infer returns, as V2 metadata describes it: from the contract, or, for a pyfunc version
        logged without one, from its answer to a row of zeros."""
        if self.lookup is not None:
            from serving.feature_lookup import describe_missing_features

            return [*self.predictor.contract.describe(), describe_missing_features()]
        if not isinstance(self.predictor, PyfuncPredictor) or self.predictor.stated:
            return self.predictor.contract.describe()
        if self.schema is None or not self.schema.numeric:
            return [{"name": "predictions", "datatype": "BYTES", "shape": [-1]}]
        answered = self.predictor.predict(np.zeros((1, self.schema.width)))
        return [
            {"name": name, "datatype": tensor_datatype(values), "shape": [-1, *values.shape[1:]]}
            for name, values in answered.items()
        ]


def feature_schema(signature: Any) -> FeatureSchema | None:
    """Column names and kinds from an MLflow signature; None when the inputs are unnamed tensors."""
    if signature is None or signature.inputs is None or not signature.inputs.has_input_names():
        return None
    specs = signature.inputs.inputs
    try:
        kinds = tuple(spec.type.name for spec in specs)
    except AttributeError:  # tensor specs carry a numpy dtype, not an MLflow column type
        return None
    return FeatureSchema(columns=tuple(spec.name for spec in specs), kinds=kinds)


def load_served_model(
    model_name: str, version: str, compile_models: bool = True, features: FeatureLookup | None = None
) -> ServedModel:
    """Load `models:/model_name/version` from the active MLflow tracking store; with `features`,
    scoring by id (serving/feature_lookup.py)."""
    import tempfile

    import mlflow
    from mlflow.models import Model

    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{model_name}/{version}", dst_path=tmp)
        mlmodel = Model.load(local)
        served = _load_adapter(model_name, version, mlmodel, local, compile_models)
    served = _with_inference_pipeline(served, mlmodel.run_id)
    if features is None:
        return served
    from serving.feature_lookup import with_feature_lookup

    return with_feature_lookup(served, features)


def _load_adapter(model_name: str, version: str, mlmodel: Any, local: str, compile_models: bool) -> ServedModel:
    """The version's model behind the adapter that answers fastest while answering the same."""
    import mlflow

    schema = feature_schema(mlmodel.signature)
    stated = contract_from_metadata(mlmodel.metadata)
    if "sklearn" not in mlmodel.flavors:
        pyfunc = mlflow.pyfunc.load_model(local)
        return ServedModel(model_name, version, "pyfunc", schema, PyfuncPredictor(pyfunc, stated, schema))
    import mlflow.sklearn

    estimator = mlflow.sklearn.load_model(local)
    native = NativePredictor(estimator, stated or contract_of_estimator(estimator), schema)
    if not compile_models or schema is None or not schema.numeric:
        return ServedModel(model_name, version, "sklearn", schema, native)
    from serving.compiled import load_or_compile

    rows = _check_rows(mlmodel, local, schema)
    predictor, report = load_or_compile(native, rows, mlmodel.run_id, _model_id(mlmodel))
    log.info("%s/%s served by the %s adapter: %s", model_name, version, report.adapter, report.reason)
    return ServedModel(model_name, version, "sklearn", schema, predictor, report)


def _model_id(mlmodel: Any) -> str:
    """The logged model's id: where its compiled form is kept on the run."""
    return str(mlmodel.model_id or mlmodel.model_uuid or "model")


def _with_inference_pipeline(served: ServedModel, run_id: str | None) -> ServedModel:
    """The version as registered with `raw_inputs` (tag `tessera.inputs: raw`): its inference pipeline
    (kept on its training run) in front of the model, and the raw columns as its schema."""
    from dataclasses import replace

    import mlflow

    from serving.inference_pipeline import ARTIFACT, RawInputPredictor

    tags = mlflow.MlflowClient().get_model_version(served.model_name, served.version).tags
    if tags.get("tessera.inputs") != "raw" or not run_id:
        return served
    pipeline = InferencePipeline.from_text(mlflow.artifacts.load_text(f"runs:/{run_id}/{ARTIFACT}"))
    log.info("%s takes raw columns through its inference pipeline (%d steps)", served.label, len(pipeline.steps))
    return replace(
        served, schema=pipeline.raw, predictor=RawInputPredictor(pipeline, served.predictor), pipeline=pipeline
    )


def compile_report(model_name: str, version: str) -> CompileReport | None:
    """How a version is served (compiled or native, and why), as its first serving recorded it; None before."""
    import tempfile

    import mlflow
    from mlflow.models import Model

    from serving.compiled import stored_report

    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model_name}/{version}/MLmodel", dst_path=tmp
        )
        mlmodel = Model.load(local)
    return stored_report(mlmodel.run_id, _model_id(mlmodel))


def _check_rows(mlmodel: Any, local: str, schema: FeatureSchema) -> np.ndarray:
    """The rows a compiled model is checked on: the input example and the stored validation sample."""
    import pandas as pd

    frames = []
    try:
        example = mlmodel.load_input_example(local)
        if isinstance(example, pd.DataFrame):
            frames.append(example)
    except Exception:  # an example MLflow cannot read back is no reason to stop serving
        log.warning("could not read the input example of %s", local)
    sample = _validation_sample(mlmodel.run_id)
    if sample is not None:
        frames.append(sample)
    usable = [f[list(schema.columns)] for f in frames if set(schema.columns) <= set(f.columns)]
    if not usable:
        return np.empty((0, schema.width))
    return pd.concat(usable).astype("float64").to_numpy()


def _validation_sample(run_id: str | None) -> Any:
    if not run_id:
        return None
    import tempfile

    import mlflow
    import pandas as pd

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=VALIDATION_SAMPLE, dst_path=tmp)
            return pd.read_parquet(Path(path))
    except Exception:  # versions trained before the sample was kept
        return None
