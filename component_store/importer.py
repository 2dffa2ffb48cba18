"""Components written elsewhere: a KFP v2 component YAML (compiled with `kfp` by someone else) read
into a store spec, kept exactly as it was written.

Both kinds KFP compiles are taken: a lightweight Python component (`@dsl.component`, its function
source inside the YAML, maybe with `packages_to_install`) and a container component
(`@dsl.container_component`: any image and command — R, a JVM job, a binary). Parameters and
artifacts come from the YAML's own input and output definitions; the summary from its
description. Such a component keeps its own image on Kubeflow.

Example:
    >>> spec = spec_from_component_yaml(text, category="transform")  # doctest: +SKIP
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Literal, cast

import yaml

from component_store.spec import CATEGORIES, COMPONENT_NAME, ArtifactSpec, ComponentSpec, ParamSpec, ParamType
from tessera.errors import ComponentError
from tessera.suggest import did_you_mean

PARAMETER_TYPES = {
    "STRING": "string", "NUMBER_INTEGER": "integer", "NUMBER_DOUBLE": "number", "BOOLEAN": "boolean",
    "LIST": "array", "STRUCT": "object",
}  # fmt: skip
KFP_OWN_PACKAGES = {"kfp", "typing-extensions"}  # what KFP's generated command installs for itself


def spec_from_component_yaml(text: str, category: str, name: str | None = None, owner: str = "") -> ComponentSpec:
    """The store spec of a KFP component YAML; errors name what the file lacks."""
    if category not in CATEGORIES:
        raise ComponentError(
            f"unknown category '{category}'{did_you_mean(category, CATEGORIES)}; use one of {', '.join(CATEGORIES)}"
        )
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ComponentError(f"the file is not YAML: {str(exc)[:200]}") from None
    if not isinstance(document, dict) or not isinstance(document.get("components"), dict):
        raise ComponentError(
            "the file is not a KFP v2 component YAML (no 'components' section): compile one with "
            "kfp.compiler.Compiler().compile(my_component, 'component.yaml')"
        )
    if len(document["components"]) != 1:
        raise ComponentError("the file holds a pipeline of several components: import one component at a time")
    definition = next(iter(document["components"].values()))
    executors = (document.get("deploymentSpec") or {}).get("executors") or {}
    executor: dict[str, Any] = next(iter(executors.values()), {})
    container = executor.get("container")
    if not container:
        raise ComponentError("the component has no container to run in (deploymentSpec.executors)")
    info = document.get("pipelineInfo") or {}
    component_name = name or str(info.get("name", "")).replace("-", "_")
    if not COMPONENT_NAME.match(component_name):
        raise ComponentError(f"'{component_name}' is not a snake_case name: give one with --name")
    summary, _, description = str(info.get("description") or header_description(text)).strip().partition("\n")
    return ComponentSpec(
        name=component_name, version="0.0.0", category=category,
        summary=summary.strip() or f"imported {kind_of(container)} component {component_name}",
        description=description.strip(),
        params=tuple(_params(definition.get("inputDefinitions") or {})),
        inputs=tuple(_artifacts(definition.get("inputDefinitions") or {})),
        outputs=tuple(_artifacts(definition.get("outputDefinitions") or {})),
        owner=owner, packages=tuple(packages_of(container)), kind=kind_of(container),
        final_status=_final_status(definition.get("inputDefinitions") or {}),
    )  # fmt: skip


def _final_status(section: dict[str, Any]) -> str:
    """The input KFP fills with the run's final status (an exit task's `dsl.PipelineTaskFinalStatus`), or ''."""
    parameters = section.get("parameters") or {}
    return next((name for name, d in parameters.items() if d.get("parameterType") == "TASK_FINAL_STATUS"), "")


def header_description(text: str) -> str:
    """The docstring KFP writes into the YAML's comment header (`# Description: …`)."""
    lines: list[str] = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body.startswith("Description:"):
            lines.append(body.removeprefix("Description:").strip())
        elif lines and not body.endswith(":") and not body.startswith(("Inputs:", "Outputs:", "Name:")):
            lines.append(body)
        elif lines:
            break
    return "\n".join(lines)


def kind_of(container: dict[str, Any]) -> Literal["python", "container"]:
    """`python` for a lightweight component (KFP runs a function), `container` otherwise."""
    return "python" if "--function_to_execute" in (container.get("args") or []) else "container"


def packages_of(container: dict[str, Any]) -> list[str]:
    """The packages a lightweight component's command installs (`packages_to_install`), KFP's own left out."""
    found: list[str] = []
    for part in container.get("command") or []:
        try:
            words = shlex.split(str(part))
        except ValueError:  # not shell words: no pip install in it
            continue
        for i, word in enumerate(words):
            if word != "install" or i == 0 or words[i - 1] != "pip":
                continue
            for argument in words[i + 1 :]:
                if argument in ("&&", "||", ";") or argument.endswith(";"):
                    break
                if not argument.startswith("-") and _requirement_name(argument) not in KFP_OWN_PACKAGES:
                    found.append(argument)
    return found


def _requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].strip().lower()


def _params(section: dict[str, Any]) -> list[ParamSpec]:
    params = []
    for param_name, definition in (section.get("parameters") or {}).items():
        if definition.get("parameterType") == "TASK_FINAL_STATUS":
            continue  # filled for an exit task (`final_status`), never set by hand
        kind = cast(ParamType, PARAMETER_TYPES.get(definition.get("parameterType", ""), "string"))
        optional = bool(definition.get("isOptional")) or "defaultValue" in definition
        params.append(
            ParamSpec(
                name=param_name,
                type=kind,
                required=not optional,  # type: ignore[arg-type]
                default=definition.get("defaultValue"),
                description=definition.get("description", ""),
            )  # fmt: skip
        )
    return params


def _artifacts(section: dict[str, Any]) -> list[ArtifactSpec]:
    return [
        ArtifactSpec(
            name=artifact_name,
            type=str(definition.get("artifactType", {}).get("schemaTitle", "system.Artifact")).split(".")[-1],
            description=definition.get("description", ""),
            many=bool(definition.get("isArtifactList", False)),
        )
        for artifact_name, definition in (section.get("artifacts") or {}).items()
    ]
