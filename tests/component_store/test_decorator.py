import jsonschema
import pytest
from kfp.dsl import Dataset, Input, Model, Output

from component_store.decorator import component
from component_store.spec import ComponentSpec
from tessera.errors import ComponentError


def make_demo():
    @component(name="demo_train", version="1.2.3", category="train", tags=["x"], owner="risk")
    def demo_train(
        data: Input[Dataset],
        model: Output[Model],
        family: Literal["forest", "logistic"] = "forest",
        trees: Annotated[int, (1, 500)] = 100,
        rate: Annotated[float, (0.0, 1.0)] = 0.1,
        label: str = "target",
        columns: list = [],  # noqa: B006 - kfp needs a literal default
        seed: int = 0,
    ):
        """Train a demo model.

        More words.

        Args:
            data: training rows.
            model: the fitted model.
            family: which model family.
            trees: how many trees.
            rate: learning rate.
            label: label column.
            columns: feature columns.
            seed: random seed.
        """
        return None

    return demo_train


# The component's source uses Literal/Annotated as the executor's prelude provides them.
from typing import Annotated, Literal  # noqa: E402


def test_spec_derives_params_from_signature():
    spec = make_demo().spec
    assert isinstance(spec, ComponentSpec)
    assert (spec.ref, spec.category, spec.owner, spec.tags) == ("demo_train@1.2.3", "train", "risk", ("x",))
    assert spec.summary == "Train a demo model." and spec.description == "More words."
    family = spec.param("family")
    assert family.type == "string" and family.choices == ("forest", "logistic") and family.default == "forest"
    trees = spec.param("trees")
    assert (trees.type, trees.minimum, trees.maximum, trees.description) == ("integer", 1, 500, "how many trees.")
    assert spec.param("rate").type == "number"
    assert spec.param("columns").type == "array"
    assert [a.name for a in spec.inputs] == ["data"] and spec.inputs[0].type == "Dataset"
    assert [(a.name, a.type) for a in spec.outputs] == [("model", "Model")]


def test_params_json_schema_accepts_defaults_and_rejects_out_of_range():
    schema = make_demo().spec.params_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate({"family": "logistic", "trees": 10}, schema)
    for bad in ({"trees": 0}, {"family": "svm"}, {"rate": "fast"}, {"unknown": 1}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_kfp_sees_plain_types_and_runs_the_same_source():
    demo = make_demo()
    inputs = demo.kfp_component.component_spec.inputs
    assert inputs["trees"].type == "Integer" and inputs["family"].type == "String"
    yaml_text = demo.to_component_yaml()
    assert "trees: int=100" in yaml_text and "Annotated" not in yaml_text and "Literal" not in yaml_text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad-Name", "version": "1.0.0", "category": "data"}, "must be snake_case"),
        ({"name": "x", "version": "1.0", "category": "data"}, "not MAJOR.MINOR.PATCH"),
        (
            {"name": "x", "version": "1.0.0", "category": "trian"},
            "unknown category 'trian' \\(did you mean 'train'\\?\\)",
        ),
    ],
)
def test_bad_metadata_is_refused(kwargs, message):
    with pytest.raises(ComponentError, match=message):
        component(**kwargs)


def test_untyped_parameter_is_refused():
    with pytest.raises(ComponentError, match="parameter 'rows' has no type annotation"):

        @component(name="untyped", version="1.0.0", category="data")
        def untyped(rows=3):
            """Something."""


def test_unsupported_type_names_the_allowed_ones():
    with pytest.raises(ComponentError, match="parameter 'when' has type .*use str, int, float"):

        @component(name="odd", version="1.0.0", category="data")
        def odd(when: complex = 1j):
            """Something."""


def test_return_value_is_refused():
    with pytest.raises(ComponentError, match="writes results to Output.*NamedTuple"):

        @component(name="returns", version="1.0.0", category="data")
        def returns(x: int = 1) -> int:
            """Something."""
            return x


def test_docstring_is_required():
    with pytest.raises(ComponentError, match="needs a docstring"):

        @component(name="silent", version="1.0.0", category="data")
        def silent(x: int = 1):
            pass
