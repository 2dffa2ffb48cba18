"""What the store knows about a component: a frozen, JSON-serialisable value.

`ComponentSpec` is derived once from a decorated function's signature and docstring
(see `component_store.signature`) and stored in the published index, so the studio,
the validator and the CLI read it without importing kfp or the component's code.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CATEGORIES = (
    "data",
    "validate",
    "transform",
    "features",
    "train",
    "tune",
    "evaluate",
    "model",
    "deploy",
    "notify",
    "monitor",
)
ParamType = Literal["string", "integer", "number", "boolean", "array", "object"]
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ParamSpec(BaseModel):
    """One typed run parameter of a component; becomes a form field in the studio."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: ParamType
    required: bool
    default: Any = None
    description: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None

    def json_schema(self) -> dict[str, Any]:
        """This parameter as a JSON Schema property."""
        schema: dict[str, Any] = {"type": self.type, "title": self.name}
        if self.description:
            schema["description"] = self.description
        if not self.required:
            schema["default"] = self.default
        if self.choices is not None:
            schema["enum"] = list(self.choices)
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


class ArtifactSpec(BaseModel):
    """One artifact input or output: a name and a KFP artifact type (`Dataset`, `Model`…)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str
    description: str = ""
    many: bool = Field(
        default=False,
        description="an input that takes a list (`Input[List[Dataset]]`): bound to a loop node's output, it "
        "receives every iteration's (dsl.Collected)",
    )


class ComponentSpec(BaseModel):
    """Everything the store promises about one version of a component."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: str
    category: str
    summary: str
    description: str = ""
    params: tuple[ParamSpec, ...] = ()
    inputs: tuple[ArtifactSpec, ...] = ()
    outputs: tuple[ArtifactSpec, ...] = ()
    param_outputs: tuple[ParamSpec, ...] = Field(
        default=(), description="parameter outputs (a NamedTuple return) that conditions read"
    )
    final_status: str = Field(
        default="",
        description="the parameter that receives the run's final status (dsl.PipelineTaskFinalStatus): such a "
        "component is a workflow's on_exit node",
    )
    tags: tuple[str, ...] = ()
    owner: str = ""
    packages: tuple[str, ...] = Field(default=(), description="pip packages KFP installs before it runs")
    kind: Literal["python", "container"] = "python"  # container: an imported component with its own image and command
    digest: str = Field(default="", description="sha256 of the frozen KFP component YAML")

    @property
    def ref(self) -> str:
        """`name@version`, as workflows write it."""
        return f"{self.name}@{self.version}"

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    def input(self, name: str) -> ArtifactSpec | None:
        return next((a for a in self.inputs if a.name == name), None)

    def output(self, name: str) -> ArtifactSpec | None:
        return next((a for a in self.outputs if a.name == name), None)

    def param_output(self, name: str) -> ParamSpec | None:
        return next((p for p in self.param_outputs if p.name == name), None)

    def params_json_schema(self) -> dict[str, Any]:
        """The parameters as one JSON Schema object; the studio renders forms from it.

        Example:
            >>> spec.params_json_schema()["properties"]["test_size"]  # doctest: +SKIP
            {'type': 'number', 'title': 'test_size', 'default': 0.2, 'minimum': 0.05, 'maximum': 0.95}
        """
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": self.ref,
            "description": self.summary,
            "type": "object",
            "properties": {p.name: p.json_schema() for p in self.params},
            "required": [p.name for p in self.params if p.required],
            "additionalProperties": False,
        }


def version_key(version: str) -> tuple[int, ...]:
    """Sort key for semantic versions: `1.10.0` after `1.9.0`."""
    return tuple(int(part) for part in version.split("."))
