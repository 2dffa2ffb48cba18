"""The version a change calls for: each kind of change, and the numbers that follow."""

from __future__ import annotations

import pytest

from component_store.spec import ArtifactSpec, ComponentSpec, ParamSpec
from component_store.versions import classify_change, next_version

BASE = ComponentSpec(
    name="clip", version="1.2.3", category="transform", summary="Clip a column.", digest="sha256:a",
    params=(ParamSpec(name="column", type="string", required=True), ParamSpec(name="limit", type="number", required=False, default=1.0)),
    inputs=(ArtifactSpec(name="table", type="Dataset"),), outputs=(ArtifactSpec(name="clipped", type="Dataset"),),
)  # fmt: skip


def changed(**fields) -> ComponentSpec:
    return BASE.model_copy(update=fields)


@pytest.mark.parametrize(
    ("new", "bump", "reason"),
    [
        (changed(params=BASE.params[:1]), "major", "parameter 'limit' removed"),
        (changed(params=(BASE.params[0], BASE.params[1].model_copy(update={"type": "integer"}))), "major",
         "parameter 'limit' retyped number → integer"),
        (changed(params=(BASE.params[0], BASE.params[1].model_copy(update={"required": True}))), "major",
         "parameter 'limit' is now required"),
        (changed(params=(*BASE.params, ParamSpec(name="upper", type="number", required=True))), "major",
         "required parameter 'upper' added"),
        (changed(inputs=(*BASE.inputs, ArtifactSpec(name="limits", type="Dataset"))), "major", "input 'limits' added"),
        (changed(outputs=(ArtifactSpec(name="clipped", type="Model"),)), "major", "output 'clipped' retyped Dataset → Model"),
        (changed(params=(*BASE.params, ParamSpec(name="upper", type="number", required=False, default=9.0))), "minor",
         "optional parameter 'upper' added"),
        (changed(params=(BASE.params[0], BASE.params[1].model_copy(update={"default": 2.0}))), "minor",
         "parameter 'limit' has another default, choices or range"),
        (changed(outputs=(*BASE.outputs, ArtifactSpec(name="report", type="Markdown"))), "minor", "output 'report' added"),
        (changed(digest="sha256:b"), "patch", "the body or the documentation changed"),
        (changed(), "none", None),
    ],
)  # fmt: skip
def test_each_kind_of_change_gets_its_bump(new: ComponentSpec, bump: str, reason: str | None) -> None:
    change = classify_change(BASE, new)
    assert change.bump == bump
    assert change.reasons == ((reason,) if reason else ())


def test_a_major_reason_outranks_a_minor_one() -> None:
    both = changed(params=(*BASE.params[:1], ParamSpec(name="upper", type="number", required=False, default=1.0)))
    assert classify_change(BASE, both).bump == "major"  # 'limit' removed, 'upper' added


def test_next_versions() -> None:
    assert [next_version("1.2.3", b) for b in ("major", "minor", "patch", "none")] == [
        "2.0.0",
        "1.3.0",
        "1.2.4",
        "1.2.3",
    ]
    assert next_version(None, "patch") == "1.0.0"
