"""Read a component function's signature and docstring into a `ComponentSpec`,
and make the plain-typed copy of its source that KFP freezes and executes.

Authors write rich annotations, which the store turns into form metadata:

    family: Literal["random_forest", "logistic"] = "random_forest"   -> choices
    test_size: Annotated[float, (0.05, 0.95)] = 0.2                  -> bounds (inclusive)

KFP only understands plain `str/int/float/bool/list/dict` parameters (its executor would
silently drop an `Annotated` one), so the source that travels in the component YAML has
those annotations reduced to their base type.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
import types
import typing
from collections.abc import Callable
from typing import Any

import docstring_parser

from component_store.spec import ArtifactSpec, ParamSpec, ParamType
from tessera.errors import ComponentError

_PLAIN_TYPES: dict[type, ParamType] = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    list: "array",
    dict: "object",
}
_ALLOWED = "str, int, float, bool, list, dict, Literal[...], Annotated[int|float, (min, max)] or Input[...]/Output[...] artifacts"


def read_signature(
    func: Callable[..., Any], component: str
) -> tuple[str, str, list[ParamSpec], list[ArtifactSpec], list[ArtifactSpec], list[ParamSpec]]:
    """Summary, description, params, inputs, outputs and parameter outputs of a component function.

    Parameter outputs are a NamedTuple return of plain types, as KFP takes them:
    `-> NamedTuple("GateOutputs", [("decision", str)])`; conditions (`when:`) read them.

    Raises:
        ComponentError: naming the parameter and the types that are allowed.
    """
    from kfp.dsl.types import type_annotations

    doc = docstring_parser.parse(inspect.getdoc(func) or "")
    help_text = {p.arg_name: (p.description or "").strip() for p in doc.params}
    hints = typing.get_type_hints(func, include_extras=True)
    params: list[ParamSpec] = []
    inputs: list[ArtifactSpec] = []
    outputs: list[ArtifactSpec] = []
    for name, parameter in inspect.signature(func).parameters.items():
        if name not in hints:
            raise ComponentError(f"Component '{component}': parameter '{name}' has no type annotation; use {_ALLOWED}")
        hint = hints[name]
        if final_status_hint(hint):  # filled by KFP (or the local runner) for an exit task: no form field
            continue
        description = help_text.get(name, "")
        if type_annotations.is_Input_Output_artifact_annotation(hint):
            inner = type_annotations.strip_Input_or_Output_marker(hint)
            artifact = ArtifactSpec(
                name=name,
                type=type_annotations.get_io_artifact_class(hint).__name__,
                description=description,
                many=type_annotations.is_list_of_artifacts(inner),
            )
            (inputs if type_annotations.is_artifact_wrapped_in_Input(hint) else outputs).append(artifact)
            continue
        params.append(_param_spec(component, name, hint, parameter.default, description))
    returned = hints.get("return", None)
    param_outputs: list[ParamSpec] = []
    if returned not in (None, type(None)):
        fields = getattr(returned, "__annotations__", None) if hasattr(returned, "_fields") else None
        if not fields or any(kind not in _PLAIN_TYPES or kind is dict for kind in fields.values()):
            raise ComponentError(
                f"Component '{component}' returns {returned!r}; a component writes results to Output[...] "
                'artifacts, and returns only parameter outputs as NamedTuple("Outputs", [("name", str)]) '
                "of str, int, float, bool or list (a list is what a loop can run over)"
            )
        param_outputs = [
            ParamSpec(name=field, type=_PLAIN_TYPES[kind], required=False, description=help_text.get(field, ""))
            for field, kind in fields.items()
        ]
    summary, description = (doc.short_description or "").strip(), (doc.long_description or "").strip()
    return summary, description, params, inputs, outputs, param_outputs


def final_status_hint(hint: Any) -> bool:
    """Whether a parameter is annotated `dsl.PipelineTaskFinalStatus` (optionally Optional[...])."""
    from kfp.dsl import PipelineTaskFinalStatus
    from kfp.dsl.types import type_annotations

    return bool(type_annotations.maybe_strip_optional_from_annotation(hint) is PipelineTaskFinalStatus)


def final_status_param(func: Callable[..., Any]) -> str:
    """The name of the function's `dsl.PipelineTaskFinalStatus` parameter, or ''."""
    hints = typing.get_type_hints(func, include_extras=True)
    return next((name for name, hint in hints.items() if name != "return" and final_status_hint(hint)), "")


def _param_spec(component: str, name: str, hint: Any, default: Any, description: str) -> ParamSpec:
    required = default is inspect.Parameter.empty
    common: dict[str, Any] = {
        "name": name,
        "required": required,
        "default": None if required else default,
        "description": description,
    }
    origin = typing.get_origin(hint)
    if hint in _PLAIN_TYPES:
        return ParamSpec(type=_PLAIN_TYPES[hint], **common)
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        kinds = {type(c) for c in choices}
        if len(kinds) != 1 or next(iter(kinds)) not in (str, int, float):
            raise ComponentError(f"Component '{component}': Literal choices of '{name}' must all be str, int or float")
        return ParamSpec(type=_PLAIN_TYPES[kinds.pop()], choices=choices, **common)
    if origin is typing.Annotated:
        base, *extras = typing.get_args(hint)
        bounds = next((e for e in extras if isinstance(e, tuple) and len(e) == 2), None)
        if base not in (int, float) or bounds is None:
            raise ComponentError(
                f"Component '{component}': parameter '{name}' is {hint!r}; "
                "Annotated is for numeric bounds, as Annotated[int, (1, 100)]"
            )
        low, high = bounds
        return ParamSpec(type=_PLAIN_TYPES[base], minimum=low, maximum=high, **common)
    raise ComponentError(f"Component '{component}': parameter '{name}' has type {hint!r}; use {_ALLOWED}")


class _PlainAnnotations(ast.NodeTransformer):
    """`Literal["a", "b"]` -> `str`, `Annotated[int, (1, 9)]` -> `int`."""

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        head = node.value.id if isinstance(node.value, ast.Name) else None
        if head == "Annotated":
            first = node.slice.elts[0] if isinstance(node.slice, ast.Tuple) else node.slice
            return self.visit(first)
        if head == "Literal":
            values = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            kind = type(values[0].value).__name__ if isinstance(values[0], ast.Constant) else "str"
            return ast.Name(id=kind, ctx=ast.Load())
        return self.generic_visit(node)


def plain_function(func: Callable[..., Any], label: str) -> types.FunctionType:
    """A copy of `func` compiled from its source with plain annotations and no decorators.

    It runs with exactly the globals KFP's executor gives it (`from kfp.dsl import *`,
    `from typing import *`), so a test calling it fails the same way the executor would
    on a name imported outside the function body.
    """
    tree = ast.parse(textwrap.dedent(inspect.getsource(func)))
    definition = tree.body[0]
    if not isinstance(definition, ast.FunctionDef):
        raise ComponentError(f"Component '{label}' must be a plain function definition")
    definition.decorator_list = []
    for arg in (*definition.args.args, *definition.args.kwonlyargs):
        if arg.annotation is not None:
            arg.annotation = _PlainAnnotations().visit(arg.annotation)
    source = ast.unparse(ast.fix_missing_locations(tree)) + "\n"
    filename = f"<tessera component {label}>"
    # KFP reads the source back with inspect.getsource, which looks in linecache.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {}
    exec("from kfp.dsl import *\nfrom typing import *\n", namespace)  # noqa: S102 - the executor's own prelude
    exec(compile(source, filename, "exec", dont_inherit=True), namespace)  # noqa: S102 - our own component source
    plain = namespace[definition.name]
    plain.__module__ = func.__module__
    return plain
