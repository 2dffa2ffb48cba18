"""Vetting: check that a component keeps the store's promises before it is published.

A vetted component
  1. has typed parameters and a docstring whose first line says what it does,
     with every parameter and artifact described (the help text in the studio);
  2. imports what it uses inside its body (only the function's source travels to the
     executor, with `kfp.dsl` and `typing` star-imported);
  3. writes files only under its declared `Output[...]` artifacts;
  4. has a test under `tests/component_store/` whose name holds its own (`test_…<name>…`).
"""

from __future__ import annotations

import ast
import builtins
import inspect
import re
import symtable
import textwrap
import typing
from pathlib import Path
from typing import Any

from tessera.errors import VetFailed

# Calls that write to the file system, and which argument names the target.
# "self" means the object the method is called on (`path.write_text(...)`).
_WRITERS: dict[str, int | str] = {
    "to_parquet": 0,
    "to_csv": 0,
    "to_json": 0,
    "to_pickle": 0,
    "to_feather": 0,
    "to_excel": 0,
    "savefig": 0,
    "copy": 1,
    "copyfile": 1,
    "copytree": 1,
    "move": 1,
    "rename": "self",
    "write_text": "self",
    "write_bytes": "self",
    "mkdir": "self",
    "makedirs": 0,
    "unlink": "self",
    "remove": 0,
    "rmtree": 0,
}


def _executor_globals() -> set[str]:
    import kfp.dsl

    return set(dir(builtins)) | set(getattr(kfp.dsl, "__all__", dir(kfp.dsl))) | set(typing.__all__) | {"kfp", "dsl"}


def vet_component(component: Any, tests_root: Path | None) -> list[str]:
    """Every problem of a `StoreComponent`; an empty list means it passes.

    Args:
        component: the decorated component.
        tests_root: the repository's `tests/component_store` folder; None skips the test check
            (for a store installed without its tests, which then cannot publish).
    """
    spec = component.spec
    problems: list[str] = []
    documented = _documented_names(component.source_function)
    for item in (*spec.params, *spec.inputs, *spec.outputs):
        if item.name not in documented:
            problems.append(f"'{item.name}' has no description in the docstring's Args section")
    source = textwrap.dedent(inspect.getsource(component.python_function))
    problems += _outside_imports(source, component.python_function.__name__)
    problems += _writes_outside_outputs(source, {o.name for o in spec.outputs})
    if tests_root is not None and not _has_test(tests_root, spec.name):
        problems.append(
            f"no test runs it: add a function 'test_{spec.name}_…' under {tests_root} that runs it on real data"
        )
    return problems


def vet_or_raise(component: Any, tests_root: Path | None) -> None:
    """Raise `VetFailed` listing every problem, or return quietly."""
    problems = vet_component(component, tests_root)
    if problems:
        raise VetFailed(component.spec.ref, problems)


def _documented_names(func: Any) -> set[str]:
    import docstring_parser

    parsed = docstring_parser.parse(inspect.getdoc(func) or "")
    return {p.arg_name for p in parsed.params if (p.description or "").strip()}


def _outside_imports(source: str, function_name: str) -> list[str]:
    table = symtable.symtable(source, "<component>", "exec")
    function = next(t for t in table.get_children() if t.get_name() == function_name)
    allowed = _executor_globals()
    problems = []
    for child in _walk_tables(function):
        for symbol in child.get_symbols():
            if symbol.is_global() and symbol.get_name() not in allowed:
                problems.append(
                    f"uses '{symbol.get_name()}' from outside its body; only the function travels to the "
                    f"executor, so import it inside the function"
                )
    return sorted(set(problems))


def _walk_tables(table: symtable.SymbolTable) -> list[symtable.SymbolTable]:
    tables = [table]
    for child in table.get_children():
        tables += _walk_tables(child)
    return tables


def _mentions(node: ast.AST, names: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


def _writes_outside_outputs(source: str, outputs: set[str]) -> list[str]:
    tree = ast.parse(source)
    # Names bound from expressions that mention an output (`path = out.path + "/x"`) count as outputs too.
    derived = set(outputs)
    changed = True
    while changed:
        changed = False
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.With) and _mentions(node, derived):
                targets = _bound_names(node)
                if not targets <= derived:
                    derived |= targets
                    changed = True
    problems = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        target = _write_target(node)
        if target is not None and not _mentions(target, derived):
            problems.append(
                f"line {node.lineno}: '{ast.unparse(node)[:60]}' writes outside the declared outputs; "
                "write only under an Output[...] artifact's path"
            )
    return problems


def _bound_names(node: ast.AST) -> set[str]:
    if isinstance(node, ast.With):
        holders: list[ast.AST] = [item.optional_vars for item in node.items if item.optional_vars is not None]
    elif isinstance(node, ast.Assign):
        holders = list(node.targets)
    else:
        holders = [node.target]  # type: ignore[attr-defined]
    return {n.id for h in holders for n in ast.walk(h) if isinstance(n, ast.Name)}


def _write_target(call: ast.Call) -> ast.AST | None:
    func = call.func
    if isinstance(func, ast.Name) and func.id == "open":
        mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
        if isinstance(mode, ast.Constant) and isinstance(mode.value, str) and re.search(r"[wax+]", mode.value):
            return call.args[0] if call.args else call
        return None
    if not isinstance(func, ast.Attribute) or func.attr not in _WRITERS:
        return None
    where = _WRITERS[func.attr]
    if where == "self":
        return func.value
    assert isinstance(where, int)
    if len(call.args) > where:
        return call.args[where]
    keyword = next((k.value for k in call.keywords if k.arg in {"path", "path_or_buf", "fname", "dst"}), None)
    return keyword if keyword is not None else call


def _has_test(tests_root: Path, name: str) -> bool:
    pattern = re.compile(rf"^\s*def test_\w*{re.escape(name)}\w*\s*\(", re.MULTILINE)
    return any(pattern.search(path.read_text()) for path in tests_root.rglob("test_*.py"))
