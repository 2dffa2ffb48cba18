"""The one-way imports of DESIGN.md, enforced by import-linter's contracts in pyproject.toml."""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint_imports = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    result = subprocess.run([lint_imports, "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_every_library_imported_directly_is_declared() -> None:
    """What the packages import themselves is in pyproject's dependencies or extras, not only pulled in by another."""
    import ast
    import re
    import sys
    import tomllib
    from importlib.metadata import packages_distributions

    root = Path(__file__).resolve().parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    specs = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    declared = {re.split(r"[<>=!\[;~ ]", spec, maxsplit=1)[0].lower().replace("_", "-") for spec in specs}
    distributions = packages_distributions()
    ours = {"tessera", "pipelines", "component_store", "serving", "studio"}
    undeclared = set()
    for package in ours:
        for path in (root / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                else:
                    continue
                for top in {name.split(".")[0] for name in names} - ours - set(sys.stdlib_module_names):
                    providers = {d.lower().replace("_", "-") for d in distributions.get(top, [])}
                    if not providers & declared:
                        undeclared.add(f"{top} ({path.relative_to(root)})")
    assert sorted(undeclared) == []


def test_every_kernel_module_is_in_the_bottom_layer() -> None:
    """A new module under tessera/ must be placed: in the kernel layer (listed), or in the SDK (tessera/sdk)."""
    import tomllib

    contract = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]
    kernel = {name.strip() for name in contract["layers"][-1].split(":")}
    modules = {f"tessera.{path.stem}" for path in (REPO / "tessera").glob("*.py") if path.stem != "__init__"}
    assert modules == kernel, f"add to (or drop from) the kernel layer in pyproject.toml: {modules ^ kernel}"
    assert contract["layers"][:2] == ["studio", "tessera.sdk"], "the SDK sits under the studio, over pipelines"
