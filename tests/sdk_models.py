"""Check what Tessera sends to an API against the API's own SDK models (OpenAPI-generated classes).

kfp_server_api, kserve and the Kubernetes client all describe each model with `openapi_types`
(attribute → type name) and `attribute_map` (attribute → JSON key). A payload passes when every
key it has is a field of its model, recursively through nested models, lists and maps.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any


def check_against_model(value: Any, type_name: str, where: str, *modules: ModuleType) -> None:
    """Raise AssertionError naming the first key of `value` that `type_name` (found in `modules`) lacks."""
    if value is None:
        return
    if match := re.fullmatch(r"list\[(.+)\]", type_name):
        assert isinstance(value, list), f"{where} should be a list"
        for i, item in enumerate(value):
            check_against_model(item, match[1], f"{where}[{i}]", *modules)
        return
    if match := re.fullmatch(r"dict\(str, ?(.+)\)", type_name):
        assert isinstance(value, dict), f"{where} should be an object"
        for key, item in value.items():
            check_against_model(item, match[1], f"{where}.{key}", *modules)
        return
    model = next((getattr(m, type_name) for m in modules if hasattr(m, type_name)), None)
    if model is None or not getattr(model, "openapi_types", None):
        return  # a primitive (str, int, bool, object, datetime) or an enum
    assert isinstance(value, dict), f"{where} should be an object ({type_name}), not {type(value).__name__}"
    fields = {json_name: model.openapi_types[attr] for attr, json_name in model.attribute_map.items()}
    for key, item in value.items():
        assert key in fields, f"{where}.{key} is not a field of {type_name}"
        check_against_model(item, fields[key], f"{where}.{key}", *modules)
