"""Decoding request bodies: every refusal names the field, never the payload; fuzzed for crashes."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from serving.payloads import BadRequest, FeatureSchema, decode_v1, decode_v2, parse_json

SCHEMA = FeatureSchema(("age", "spend", "reports", "vip"), ("double", "double", "long", "boolean"))
NUMERIC = FeatureSchema(("age", "spend", "reports"), ("double", "double", "long"))


def test_lists_and_records_decode_to_the_same_matrix_in_signature_order() -> None:
    by_list = decode_v1({"instances": [[30, 12.5, 2]]}, NUMERIC, 10)
    by_record = decode_v1({"instances": [{"reports": 2, "age": 30, "spend": 12.5}]}, NUMERIC, 10)
    assert by_list.tolist() == by_record.tolist() == [[30.0, 12.5, 2.0]]


def test_v2_tensor_and_per_column_inputs_decode_alike() -> None:
    tensor = {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3, 4, 5, 6]}]}
    columns = {
        "inputs": [
            {"name": "spend", "shape": [2], "datatype": "FP64", "data": [2, 5]},
            {"name": "age", "shape": [2], "datatype": "FP64", "data": [1, 4]},
            {"name": "reports", "shape": [2, 1], "datatype": "INT64", "data": [[3], [6]]},
        ]
    }
    assert decode_v2(tensor, NUMERIC, 10).tolist() == decode_v2(columns, NUMERIC, 10).tolist()


@pytest.mark.parametrize(
    ("payload", "status", "message"),
    [
        ([1, 2], 400, "must be a JSON object with an 'instances'"),
        ({"instance": [[1, 2, 3]]}, 400, "unknown field 'instance' \\(did you mean 'instances'"),
        ({"instances": []}, 400, "'instances' is empty"),
        ({"instances": [[1, 2]]}, 400, r"instances\[0\] has 2 values; the model expects 3 \(age, spend, reports\)"),
        ({"instances": [[1, 2, 3], [1, 2, 3, 4]]}, 400, r"instances\[1\] has 4 values"),
        ({"instances": [[1, "2", 3]]}, 400, r"instances\[0\] column 'spend' must be a number, got a string"),
        ({"instances": [[1, None, 3]]}, 400, "column 'spend' must be a number, got null"),
        ({"instances": [[1, True, 3]]}, 400, "column 'spend' must be a number, got a boolean"),
        ({"instances": [[1, 2, 3.5]]}, 400, "column 'reports' must be a whole number"),
        ({"instances": [[1, 1e308 * 10, 3]]}, 400, "column 'spend' is not a finite number"),
        ({"instances": [{"age": 1, "spend": 2}]}, 400, r"instances\[0\]: missing column 'reports'"),
        (
            {"instances": [{"age": 1, "spend": 2, "reprots": 3}]},
            400,
            "unknown column 'reprots' \\(did you mean 'reports'",
        ),
        (
            {"instances": [[1, 2, 3]], "columns": ["spend", "age", "reports"]},
            400,
            "different order.*'age' must come where 'spend'",
        ),
        ({"instances": [[1, 2, 3]] * 11}, 413, "batch of 11 rows is over this endpoint's limit of 10"),
    ],
)
def test_v1_refusals_name_the_field(payload: object, status: int, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as refused:
        decode_v1(payload, NUMERIC, 10)
    assert refused.value.status == status


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"inputs": []}, "'inputs' must be a non-empty list"),
        (
            {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "BYTES", "data": ["a", "b", "c"]}]},
            "datatype 'BYTES'",
        ),
        (
            {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1, 2]}]},
            "2 features per row; the model expects 3",
        ),
        (
            {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
            "needs 6 values, but data has 3",
        ),
        ({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64"}]}, r"inputs\[0\] is missing 'data'"),
        (
            {
                "inputs": [
                    {"name": "age", "shape": [1], "datatype": "FP64", "data": [1]},
                    {"name": "spnd", "shape": [1], "datatype": "FP64", "data": [1]},
                ]
            },
            "unknown column 'spnd' \\(did you mean 'spend'",
        ),
    ],
)
def test_v2_refusals_name_the_field(payload: object, message: str) -> None:
    with pytest.raises(BadRequest, match=message):
        decode_v2(payload, NUMERIC, 10)


def test_boolean_columns_take_booleans_only() -> None:
    assert decode_v1({"instances": [[30, 1.5, 2, True]]}, SCHEMA, 10).tolist() == [[30.0, 1.5, 2.0, 1.0]]
    with pytest.raises(BadRequest, match="column 'vip' must be true or false, got a number"):
        decode_v1({"instances": [[30, 1.5, 2, 1]]}, SCHEMA, 10)


def test_malformed_json_gives_the_position_and_not_the_body() -> None:
    with pytest.raises(BadRequest, match="not valid JSON \\(line 1 column") as refused:
        parse_json(b'{"instances": [[1, NaN, "secret-player-id"]]}')
    assert "secret" not in refused.value.message


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None)
@given(
    payload=json_values
    | st.fixed_dictionaries({"instances": json_values})
    | st.fixed_dictionaries({"inputs": json_values})
)
def test_any_json_either_decodes_to_a_finite_matrix_or_is_a_4xx(payload: object) -> None:
    for decode in (decode_v1, decode_v2):
        try:
            matrix = decode(payload, SCHEMA, 50)
        except BadRequest as refused:
            assert refused.status in (400, 413)
            assert "secret" not in refused.message
        else:
            assert matrix.shape[1] == SCHEMA.width and np.isfinite(matrix).all()
    json.dumps(payload)  # the strategy only makes what a client could send
