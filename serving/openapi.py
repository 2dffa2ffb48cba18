"""An endpoint's OpenAPI document, built from the served model's signature and output contract.

Business services generate their clients from it: the V1 and V2 request bodies name the model's
columns and types, the answers name the outputs infer really returns (the same description the V2
metadata gives), and every route says it needs the bearer token.
"""

from __future__ import annotations

from typing import Any

from serving.payloads import INTEGER_KINDS, FeatureSchema

JSON_TYPES = {"BOOL": "boolean", "BYTES": "string", "FP64": "number", "FP32": "number"}


def openapi_document(name: str, schema: FeatureSchema | None, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """OpenAPI 3.1 for endpoint `name`: V1 predict, V2 infer and metadata, with the model's columns and outputs."""
    row = _row_schema(schema)
    answer_v1 = {
        "type": "object",
        "properties": {o["name"]: _output_schema(o) for o in outputs},
        "required": [o["name"] for o in outputs],
    }
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer", "minimum": 0}},
            "datatype": {"type": "string", "enum": ["FP64", "FP32", "INT64", "INT32", "BOOL"]},
            "data": {"type": "array"},
        },
    }
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "openapi": "3.1.0",
        "info": {"title": f"{name} (Tessera endpoint)", "version": "1"},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Row": row, "V1Answer": answer_v1, "Tensor": tensor, "Error": _error()},
        },
        "paths": {
            f"/v1/models/{name}:predict": {
                "post": {
                    "summary": "Score rows (objects keyed by column, or lists in column order)",
                    "security": secured,
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["instances"],
                            "properties": {
                                "instances": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"$ref": "#/components/schemas/Row"},
                                }
                            },
                        }
                    ),  # fmt: skip
                    "responses": _responses({"$ref": "#/components/schemas/V1Answer"}),
                }
            },
            f"/v2/models/{name}/infer": {
                "post": {
                    "summary": "Open Inference Protocol V2 (JSON, or binary tensor data)",
                    "security": secured,
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["inputs"],
                            "properties": {
                                "id": {"type": "string"},
                                "inputs": {
                                    "type": "array",
                                    "minItems": 1,
                                    "items": {"$ref": "#/components/schemas/Tensor"},
                                },
                                "outputs": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "name": {"type": "string", "enum": [o["name"] for o in outputs]}
                                        },
                                    },
                                },
                            },
                        }
                    ),  # fmt: skip
                    "responses": _responses({"type": "object"}),
                }
            },
            f"/v2/models/{name}": {
                "get": {
                    "summary": "Inputs, outputs and served versions",
                    "security": secured,
                    "responses": _responses({"type": "object"}),
                }  # fmt: skip
            },
            "/v2/health/ready": {
                "get": {"summary": "Ready to answer (open)", "responses": {"200": {"description": "ready"}}}
            },
        },
    }


def _row_schema(schema: FeatureSchema | None) -> dict[str, Any]:
    if schema is None:
        return {"type": "object"}
    properties = {}
    for column, kind in zip(schema.columns, schema.kinds, strict=True):
        if kind == "boolean":
            properties[column] = {"type": "boolean"}
        elif kind in INTEGER_KINDS:
            properties[column] = {"type": "integer"}
        elif kind == "string":
            properties[column] = {"type": "string"}
        else:
            properties[column] = {"type": "number"}
    return {
        "oneOf": [
            {
                "type": "object",
                "properties": properties,
                "required": list(schema.columns),
                "additionalProperties": False,
            },
            {
                "type": "array",
                "items": {"type": ["number", "boolean"]},
                "minItems": schema.width,
                "maxItems": schema.width,
            },
        ]
    }


def _output_schema(output: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {"type": JSON_TYPES.get(output["datatype"], "integer")}
    if len(output["shape"]) == 2:
        item = {"type": "array", "items": item}
        if output["shape"][1] > 0:  # a probability per class
            item |= {"minItems": output["shape"][1], "maxItems": output["shape"][1]}
    return {"type": "array", "items": item}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _error() -> dict[str, Any]:
    return {"type": "object", "required": ["error"], "properties": {"error": {"type": "string", "maxLength": 2000}}}


def _responses(ok: dict[str, Any]) -> dict[str, Any]:
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return {
        "200": {"description": "the model's answer", "content": {"application/json": {"schema": ok}}},
        "400": {"description": "bad input, naming the field"} | error,
        "401": {"description": "missing or wrong bearer token"} | error,
        "413": {"description": "body or batch over the endpoint's limit"} | error,
        "415": {"description": "content type not taken"} | error,
    }
