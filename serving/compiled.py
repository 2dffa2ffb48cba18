"""Compiled inference: a model converted to ONNX once per version and run by ONNX Runtime.

scikit-learn spends about a millisecond checking its input on every `predict_proba` call; ONNX
Runtime computes the same trees or linear model in microseconds. `compile_checked` converts a
scikit-learn-API estimator (pipelines, linear models, forests, HistGradientBoosting, LightGBM,
XGBoost) with skl2onnx / onnxmltools, then compares it with the native estimator on the rows it
is given (the version's input example and validation sample): the compiled model is used only
when every label is equal and every probability (or regression value, relatively) is within the
tolerance. Otherwise the native adapter serves and the report says why. The ONNX bytes and the
report are kept on the version's MLflow run (`tessera/compiled/<model id>/`), so later starts
load them instead of converting again.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from serving.predictor import NativePredictor, OutputContract, Outputs, Rows

log = logging.getLogger("tessera.endpoint")

DEFAULT_TOLERANCE = 1e-5
ARTIFACT_DIR = "tessera/compiled"


class Unconvertible(Exception):
    """A model, or a step of it, that the ONNX converters cannot translate."""


@dataclass(frozen=True)
class CompileReport:
    """How a version is served and why: `adapter` is "compiled" or "native"."""

    adapter: str
    reason: str
    rows_checked: int = 0
    max_difference: float = 0.0
    tolerance: float = DEFAULT_TOLERANCE

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class CompiledPredictor:
    """An ONNX model on ONNX Runtime, one intra-op thread: rows (float matrix) -> contract outputs."""

    adapter = "compiled"

    def __init__(self, onnx_bytes: bytes, contract: OutputContract):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        self.session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
        self.onnx_bytes = onnx_bytes
        self.contract = contract
        model_input = self.session.get_inputs()[0]
        self.input_name = model_input.name
        self.dtype = np.float64 if model_input.type == "tensor(double)" else np.float32
        names = [o.name for o in self.session.get_outputs()]
        self.wanted = ["probabilities"] if contract.task == "classification" else [names[0]]

    def predict(self, rows: Rows) -> Outputs:
        (values,) = self.session.run(self.wanted, {self.input_name: np.asarray(rows, dtype=self.dtype)})
        if self.contract.task == "classification":
            return self.contract.classify(values)
        return self.contract.regress(values)


def convert(estimator: Any, width: int) -> bytes:
    """ONNX bytes for a scikit-learn-API estimator taking `width` columns; double precision where
    the converters keep it end to end (linear models, forests), float32 otherwise."""
    import onnxruntime as ort
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    _register_boosters()
    estimator = _without_xgboost_feature_names(estimator)
    options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else None
    failures = []
    for tensor_type in (DoubleTensorType, FloatTensorType):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = convert_sklearn(
                    estimator, initial_types=[("input", tensor_type([None, width]))], options=options,
                    target_opset={"": 17, "ai.onnx.ml": 3},
                )  # fmt: skip
            onnx_bytes: bytes = model.SerializeToString()
            ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])  # does ONNX Runtime take it?
            return onnx_bytes
        except Exception as exc:  # the converters raise many kinds; each says what it could not translate
            failures.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
    raise Unconvertible(failures[-1])


def _without_xgboost_feature_names(estimator: Any) -> Any:
    """onnxmltools reads XGBoost's trees only with its default feature names (f0, f1, …): a copy without names."""
    if not type(estimator).__module__.startswith("xgboost"):
        return estimator
    import copy

    unnamed = copy.deepcopy(estimator)
    unnamed.get_booster().feature_names = None
    return unnamed


def compile_checked(
    native: NativePredictor, rows: np.ndarray, tolerance: float = DEFAULT_TOLERANCE
) -> tuple[CompiledPredictor | None, CompileReport]:
    """The compiled predictor when it answers like `native` on `rows`, else None; and the report."""
    if len(rows) == 0:
        return None, CompileReport("native", "no rows to check a compiled model against")
    try:
        compiled = CompiledPredictor(convert(native.estimator, rows.shape[1]), native.contract)
    except Unconvertible as exc:
        return None, CompileReport("native", f"ONNX conversion failed ({exc})")
    return _checked(compiled, native, rows, tolerance)


def _checked(
    compiled: CompiledPredictor, native: NativePredictor, rows: np.ndarray, tolerance: float
) -> tuple[CompiledPredictor | None, CompileReport]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feature-name warnings: both take a bare matrix
        ours, theirs = compiled.predict(rows), native.predict(rows)
    if native.contract.task == "classification":
        mismatched = int((ours["predictions"] != theirs["predictions"]).sum())
        difference = float(np.abs(ours["probabilities"] - theirs["probabilities"]).max())
        if mismatched:
            reason = f"{mismatched} of {len(rows)} labels differ from the native model's"
            return None, CompileReport("native", reason, len(rows), difference, tolerance)
    else:
        scale = np.maximum(1.0, np.abs(theirs["predictions"]))
        difference = float((np.abs(ours["predictions"] - theirs["predictions"]) / scale).max())
    if not difference <= tolerance:
        reason = f"answers differ from the native model's by up to {difference:.2e} (tolerance {tolerance:g})"
        return None, CompileReport("native", reason, len(rows), difference, tolerance)
    reason = f"equal to the native model on {len(rows)} rows (largest difference {difference:.1e})"
    return compiled, CompileReport("compiled", reason, len(rows), difference, tolerance)


def load_or_compile(
    native: NativePredictor, rows: np.ndarray, run_id: str | None, model_id: str, tolerance: float = DEFAULT_TOLERANCE
) -> tuple[NativePredictor | CompiledPredictor, CompileReport]:
    """The predictor to serve a version with: its stored compiled model (re-checked on `rows`), or a
    new conversion, stored beside the version for the next start; the native one when either fails."""
    stored = _stored_onnx(run_id, model_id)
    if stored is not None:
        try:
            compiled, report = _checked(CompiledPredictor(stored, native.contract), native, rows, tolerance)
        except Exception as exc:  # a damaged file: convert again
            log.warning("stored compiled model for %s is unusable (%s); converting again", model_id, exc)
        else:
            if compiled is not None:
                return compiled, report
    compiled, report = compile_checked(native, rows, tolerance)
    _store(run_id, model_id, compiled, report)
    return (compiled or native), report


def stored_report(run_id: str | None, model_id: str) -> CompileReport | None:
    """The report kept beside a version (`endpoint show` reads it), or None before its first serving."""
    text = _download(run_id, f"{ARTIFACT_DIR}/{model_id}/report.json")
    if text is None:
        return None
    fields = json.loads(text)
    return CompileReport(**{k: v for k, v in fields.items() if k in CompileReport.__dataclass_fields__})


def _stored_onnx(run_id: str | None, model_id: str) -> bytes | None:
    return _download(run_id, f"{ARTIFACT_DIR}/{model_id}/model.onnx", binary=True)


def _download(run_id: str | None, path: str, binary: bool = False) -> Any:
    if not run_id:
        return None
    import mlflow

    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=tmp))
            return local.read_bytes() if binary else local.read_text()
    except Exception:  # not there (first serving) or not readable: compile anew
        return None


def _store(run_id: str | None, model_id: str, compiled: CompiledPredictor | None, report: CompileReport) -> None:
    if not run_id:
        return
    from mlflow import MlflowClient

    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "report.json").write_text(report.to_json())
            if compiled is not None:
                (folder / "model.onnx").write_bytes(compiled.onnx_bytes)
            MlflowClient().log_artifacts(run_id, str(folder), f"{ARTIFACT_DIR}/{model_id}")
    except Exception as exc:  # a read-only store still serves; the next start converts again
        log.warning("could not keep the compiled model beside run %s: %s", run_id, exc)


BOOSTER_CONVERTERS = {  # library -> onnxmltools module and function that translate its trees
    "lightgbm": ("onnxmltools.convert.lightgbm.operator_converters.LightGbm", "convert_lightgbm", "LightGbm"),
    "xgboost": ("onnxmltools.convert.xgboost.operator_converters.XGBoost", "convert_xgboost", "XGBoost"),
}


@functools.cache
def _register_boosters() -> None:
    """Teach skl2onnx LightGBM's and XGBoost's scikit-learn classes (onnxmltools has their converters), once."""
    import importlib

    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    for library, (module, function, alias) in BOOSTER_CONVERTERS.items():
        try:
            package = importlib.import_module(library)
            converter = getattr(importlib.import_module(module), function)
        except ImportError:  # that library is not installed: its models are not served here either
            continue
        prefix = "LGBM" if library == "lightgbm" else "XGB"
        classifier, regressor = getattr(package, f"{prefix}Classifier"), getattr(package, f"{prefix}Regressor")
        update_registered_converter(
            classifier, f"{alias}{classifier.__name__}", calculate_linear_classifier_output_shapes, converter,
            options={"nocl": [True, False], "zipmap": [True, False, "columns"]},
        )  # fmt: skip
        update_registered_converter(
            regressor, f"{alias}{regressor.__name__}", calculate_linear_regressor_output_shapes, converter,
            options={"split": None},
        )  # fmt: skip
