"""One predictor contract, every adapter: compiled (ONNX Runtime), native estimator and MLflow pyfunc,
over binary, multiclass (text labels) and regression models of every family a user can train.

Each model is logged the way the train components log it (`component_store.runtime.models.log_model`),
registered, and loaded by the server's own loader; its answers are checked against the contract,
against the estimator itself, and against what its V2 metadata says it returns.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from serving.compiled import CompiledPredictor, compile_checked
from serving.predictor import NativePredictor, contract_of_estimator, tensor_datatype
from serving.served_model import load_served_model
from tessera.workspace import init_workspace

pytestmark = pytest.mark.slow

TASKS = {
    "binary": ("classification", np.array(["clean", "cheater"])),
    "multiclass": ("classification", np.array(["low", "mid", "high"])),
    "regression": ("regression", None),
}
FAMILIES = ("logistic", "hist_gradient_boosting", "random_forest", "lightgbm", "xgboost")


def task_table(kind: str, rows: int = 400) -> tuple[pd.DataFrame, pd.Series]:
    """Rows with mixed scales (a count, a share, a money amount) and a label of the task's kind."""
    rng = np.random.default_rng(7)
    features = pd.DataFrame(
        {
            "logins": rng.poisson(20, rows).astype("float64"),
            "win_rate": rng.uniform(0, 1, rows),
            "spend": rng.lognormal(3, 1, rows),
            "reports": rng.poisson(1, rows).astype("float64"),
        }
    )
    signal = features["win_rate"] * 3 + features["reports"] * 0.7 - np.log1p(features["spend"]) * 0.3
    task, names = TASKS[kind]
    if task == "regression":
        return features, pd.Series(signal * 10 + rng.normal(0, 0.5, rows), name="label")
    cuts = np.quantile(signal, np.linspace(0, 1, len(names) + 1)[1:-1])
    return features, pd.Series(names[np.searchsorted(cuts, signal)], name="label")


def value_kind(values: Any) -> str:
    """'text', or numpy's kind letter for numbers ('i' for whole, 'f' for fractions)."""
    kind = np.asarray(values).dtype.kind
    return "text" if kind in "OUS" else kind


def fitted(kind: str, family: str) -> tuple[Any, pd.DataFrame, pd.Series]:
    from component_store.runtime.models import FitOptions, build_estimator, fit_estimator

    task, _ = TASKS[kind]
    features, target = task_table(kind)
    if family == "xgboost" and task == "classification":  # XGBoost takes classes 0..k-1
        target = pd.Series(pd.factorize(target, sort=True)[0], name="label")
    family = "linear" if family == "logistic" and task == "regression" else family
    params = {"n_estimators": 30} if family in ("lightgbm", "xgboost", "random_forest") else {}
    estimator = build_estimator(task, family, params, seed=0)
    return fit_estimator(estimator, features, target, FitOptions()), features, target


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory, monkeypatch_module: pytest.MonkeyPatch) -> Path:
    import mlflow

    workspace = init_workspace(tmp_path_factory.mktemp("contract"), name="contract")
    for key, value in workspace.component_environment().items():
        monkeypatch_module.setenv(key, value)
    mlflow.set_tracking_uri(workspace.tracking_uri())
    mlflow.set_experiment("contract")
    return workspace.root


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def register(name: str, estimator: Any, features: pd.DataFrame, task: str, tmp: Path) -> None:
    import mlflow

    from component_store.runtime.models import log_model

    artifact = SimpleNamespace(path=str(tmp / name), metadata={})
    with mlflow.start_run():
        info = log_model(estimator, features, task, artifact, {})
    mlflow.register_model(info.model_uri, name)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", list(TASKS))
def test_compiled_and_native_adapters_keep_the_contract_and_agree(
    registry: Path, tmp_path: Path, kind: str, family: str
) -> None:
    estimator, features, target = fitted(kind, family)
    task, _ = TASKS[kind]
    name = f"{kind}-{family}".replace("_", "-")
    register(name, estimator, features, task, tmp_path)

    compiled = load_served_model(name, "1")
    native = load_served_model(name, "1", compile_models=False)
    assert compiled.predictor.adapter == "compiled", compiled.report
    assert native.predictor.adapter == "native"
    held_back = task_table(kind, rows=600)[0].tail(200).to_numpy()  # rows neither fit nor checked on
    for served in (compiled, native):
        answer = served.predict(held_back)
        described = {o["name"]: o for o in served.outputs}
        assert list(answer) == list(described)  # metadata lists exactly what infer returns
        for output, values in answer.items():
            assert tensor_datatype(values) == described[output]["datatype"]
            assert len(described[output]["shape"]) == values.ndim
        if task == "classification":
            classes = np.asarray(estimator.classes_)
            assert answer["probabilities"].shape == (200, len(classes))
            np.testing.assert_allclose(answer["probabilities"].sum(axis=1), 1.0, atol=1e-6)
            assert value_kind(answer["predictions"]) == value_kind(target)  # the training labels' type
            assert set(answer["predictions"]) <= set(classes.tolist())
            expected = estimator.predict_proba(held_back)
            np.testing.assert_allclose(answer["probabilities"], expected, atol=1e-5)
            top_two = np.sort(expected, axis=1)[:, -2:]
            clear = top_two[:, 1] - top_two[:, 0] > 1e-5  # a forest's exact ties may break either way in float32
            assert clear.mean() > 0.9
            assert answer["predictions"][clear].tolist() == estimator.predict(held_back)[clear].tolist()
        else:
            assert list(answer) == ["predictions"] and answer["predictions"].shape == (200,)
            np.testing.assert_allclose(answer["predictions"], estimator.predict(held_back), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("kind", list(TASKS))
def test_pyfunc_adapter_keeps_the_contract(registry: Path, kind: str) -> None:
    """A pyfunc model that answers like train_torch_tabular (P(second class), a column per class, or values)."""
    import mlflow
    from mlflow.models import infer_signature
    from mlflow.pyfunc import PythonModel

    from serving.predictor import contract_metadata

    estimator, features, target = fitted(kind, "hist_gradient_boosting")
    task, _ = TASKS[kind]

    class Wrapped(PythonModel):
        def __init__(self, model: Any) -> None:
            self.model = model

        def predict(self, context: Any, model_input: pd.DataFrame, params: Any = None) -> np.ndarray:
            if task == "regression":
                return self.model.predict(model_input)
            probabilities = self.model.predict_proba(model_input)
            return probabilities[:, 1] if probabilities.shape[1] == 2 else probabilities

    name = f"pyfunc-{kind}"
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="model", python_model=Wrapped(estimator), signature=infer_signature(features.head(20)),
            metadata=contract_metadata(task, getattr(estimator, "classes_", ())), pip_requirements=["scikit-learn"],
        )  # fmt: skip
    mlflow.register_model(info.model_uri, name)
    served = load_served_model(name, "1")
    assert served.predictor.adapter == "pyfunc"
    answer = served.predict(features.head(50).to_numpy())
    assert [o["name"] for o in served.outputs] == list(answer)
    if task == "classification":
        np.testing.assert_allclose(answer["probabilities"], estimator.predict_proba(features.head(50)), atol=1e-12)
        assert answer["predictions"].tolist() == estimator.predict(features.head(50)).tolist()
    else:
        np.testing.assert_allclose(answer["predictions"], estimator.predict(features.head(50)))


def test_a_pipeline_onnx_cannot_convert_is_served_natively_and_says_why() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    features, target = task_table("binary")
    pipeline = make_pipeline(FunctionTransformer(np.log1p), HistGradientBoostingClassifier(max_iter=20))
    pipeline.fit(features, target)
    native = NativePredictor(pipeline, contract_of_estimator(pipeline), None)
    compiled, report = compile_checked(native, features.to_numpy()[:50])
    assert compiled is None and report.adapter == "native"
    assert "ONNX conversion failed" in report.reason and "FunctionTransformer" in report.reason


def test_a_compiled_model_outside_the_tolerance_is_not_used() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    features, target = task_table("multiclass")
    model = HistGradientBoostingClassifier(max_iter=30).fit(features, target)
    native = NativePredictor(model, contract_of_estimator(model), None)
    compiled, report = compile_checked(native, features.to_numpy(), tolerance=0.0)  # float32 trees: ~1e-7 apart
    assert compiled is None and report.adapter == "native"
    assert "tolerance 0" in report.reason and report.max_difference > 0
    accepted, report = compile_checked(native, features.to_numpy())
    assert isinstance(accepted, CompiledPredictor) and report.adapter == "compiled" and report.rows_checked == 400


def test_the_compiled_model_is_kept_beside_the_version_and_reused(registry: Path, tmp_path: Path) -> None:
    from serving.served_model import compile_report

    estimator, features, _ = fitted("binary", "lightgbm")
    register("kept-lightgbm", estimator, features, "classification", tmp_path)
    assert compile_report("kept-lightgbm", "1") is None  # not served yet
    first = load_served_model("kept-lightgbm", "1")
    report = compile_report("kept-lightgbm", "1")
    assert report is not None and report.adapter == "compiled" and report.rows_checked == 403  # example + sample
    second = load_served_model("kept-lightgbm", "1")
    assert isinstance(second.predictor, CompiledPredictor)
    assert second.predictor.onnx_bytes == first.predictor.onnx_bytes  # type: ignore[attr-defined]
