"""The `@component` decorator: a KFP v2 lightweight component plus store metadata.

Example:
    >>> from kfp.dsl import Dataset, Output
    >>> @component(name="sample_dataset", version="1.0.0", category="data", owner="risk-team")
    ... def sample_dataset(table: Output[Dataset], rows: int = 100):
    ...     '''Load a built-in table.
    ...
    ...     Args:
    ...         rows: how many rows to keep.
    ...     '''
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from component_store.signature import final_status_param, plain_function, read_signature
from component_store.spec import CATEGORIES, COMPONENT_NAME, SEMVER, ComponentSpec
from tessera.errors import ComponentError
from tessera.suggest import did_you_mean
from tessera.workspace import DEFAULT_RUNTIME_IMAGE


@dataclass(frozen=True)
class StoreComponent:
    """A component as written in source: its spec, its function and its KFP form."""

    spec: ComponentSpec
    source_function: Callable[..., Any] = field(repr=False)
    python_function: Callable[..., Any] = field(repr=False)
    base_image: str = DEFAULT_RUNTIME_IMAGE

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def version(self) -> str:
        return self.spec.version

    @cached_property
    def kfp_component(self) -> Any:
        """The `kfp.dsl` component built from the plain-typed source."""
        from kfp import dsl

        # kfp is installed in the runtime image, so skip the per-task `pip install kfp`.
        return dsl.component(
            self.python_function, base_image=self.base_image, install_kfp_package=False,
            packages_to_install=list(self.spec.packages) or None,
        )  # fmt: skip

    def at_version(self, version: str) -> StoreComponent:
        """The same component under another version (a team store computes it at publish)."""
        from dataclasses import replace

        return replace(
            self, spec=self.spec.model_copy(update={"version": version}),
            python_function=plain_function(self.source_function, f"{self.name}@{version}"),
        )  # fmt: skip

    def to_component_yaml(self) -> str:
        """The KFP component YAML (IR) that the store freezes on publish."""
        from kfp import compiler

        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "component.yaml"
            compiler.Compiler().compile(self.kfp_component, str(path))
            return path.read_text()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the plain function directly (tests) with kfp artifact objects."""
        return self.python_function(*args, **kwargs)


def component_digest(component_yaml: str) -> str:
    """sha256 of a component's IR, ignoring the kfp version that compiled it."""
    document = yaml.load(component_yaml, Loader=yaml.CSafeLoader)
    document.pop("sdkVersion", None)
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def component(
    *,
    name: str,
    category: str,
    version: str = "0.0.0",
    tags: Sequence[str] = (),
    owner: str = "",
    base_image: str = DEFAULT_RUNTIME_IMAGE,
    packages: Sequence[str] = (),
) -> Callable[[Callable[..., Any]], StoreComponent]:
    """Declare a store component.

    Args:
        name: snake_case name, unique in the store.
        version: semantic version `MAJOR.MINOR.PATCH`, bumped by hand for any change in the built-in store;
            a team store computes it at publish from what changed (leave it out there).
        category: one of `component_store.spec.CATEGORIES`.
        tags: free words for search.
        owner: team or person who answers for it.
        base_image: container image on Kubeflow; the workspace's `runtime_image` overrides it at compile time.
        packages: pip packages the component needs beyond the runtime image (KFP's `packages_to_install`),
            e.g. `["scipy>=1.11"]`; the local runner checks they are installed before a run.

    Raises:
        ComponentError: when the metadata or the signature breaks the store's rules.
    """
    if not COMPONENT_NAME.match(name):
        raise ComponentError(f"Component name '{name}' must be snake_case (letters, digits, underscores)")
    if not SEMVER.match(version):
        raise ComponentError(f"Component '{name}': version '{version}' is not MAJOR.MINOR.PATCH, e.g. 1.0.0")
    if category not in CATEGORIES:
        raise ComponentError(
            f"Component '{name}': unknown category '{category}'{did_you_mean(category, CATEGORIES)}; "
            f"use one of {', '.join(CATEGORIES)}"
        )

    def wrap(func: Callable[..., Any]) -> StoreComponent:
        summary, description, params, inputs, outputs, param_outputs = read_signature(func, name)
        if not summary:
            raise ComponentError(f"Component '{name}' needs a docstring whose first line says what it does")
        spec = ComponentSpec(
            name=name,
            version=version,
            category=category,
            summary=summary,
            description=description,
            params=tuple(params),
            inputs=tuple(inputs),
            outputs=tuple(outputs),
            param_outputs=tuple(param_outputs),
            final_status=final_status_param(func),
            tags=tuple(tags),
            owner=owner,
            packages=tuple(packages),
        )
        return StoreComponent(
            spec=spec,
            source_function=func,
            python_function=plain_function(func, f"{name}@{version}"),
            base_image=base_image,
        )

    return wrap
