"""`Workflow`: a workflow file of the workspace, edited in Python with the studio's own edits
(pipelines/edits.py) and saved back with its comments kept."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from component_store.store import ComponentStore
    from pipelines.spec import WorkflowSpec
    from tessera.errors import Problem


class Workflow:
    """A workflow being edited: `.spec` is the current value (a frozen `WorkflowSpec`); each edit
    replaces it and returns this handle, so edits chain. Nothing is written until `save()`.

    Example:
        >>> wf = ws.workflow("cheater_detection")  # doctest: +SKIP
        >>> wf.set_params("tune", n_trials=20).add("scale_numeric", after="fill").save()  # doctest: +SKIP
    """

    def __init__(self, spec: WorkflowSpec, path: Path | None, store: ComponentStore, runtime_image: str | None = None):
        self.spec = spec
        self.path = path
        self._store = store
        self._runtime_image = runtime_image

    @property
    def name(self) -> str:
        return f"{self.spec.project}/{self.spec.name}"

    @property
    def nodes(self) -> list[str]:
        return self.spec.node_ids()

    def set_params(self, node: str, **values: Any) -> Workflow:
        """Set some of a node's parameters (the others keep their values)."""
        from pipelines.edits import set_node_params

        self.spec = set_node_params(self.spec, node, dict(self.spec.node(node).params) | values)
        return self

    def add(self, component: str, after: str | None = None) -> Workflow:
        """Add a node running `component` (`name` for its latest version, or `name@version`); with
        `after`, connect that node's fitting output to it, as drawing an edge in the studio does. The
        new node's id is the component's name (`scale_numeric`, `scale_numeric_2`…): `wf.nodes[-1]`."""
        from pipelines.edits import add_node, connect

        spec = self._store.resolve(component) if "@" in component else self._store.latest(component)
        edited = add_node(self.spec, spec)
        added = edited.nodes[-1].id
        if after is not None:
            edited, _ = connect(edited, self._store, after, added)
        self.spec = edited
        return self

    def connect(self, source: str, target: str) -> Workflow:
        """Bind a free input of `target` to the fitting output of `source`."""
        from pipelines.edits import connect

        self.spec, _ = connect(self.spec, self._store, source, target)
        return self

    def bind(self, node: str, input_name: str, source: str) -> Workflow:
        """Bind `node`'s input to `source` (`<node>.<output>`), checking that the types fit."""
        from pipelines.edits import bind

        self.spec = bind(self.spec, self._store, node, input_name, source)
        return self

    def remove(self, node: str) -> Workflow:
        """Drop a node and every binding to it."""
        from pipelines.edits import remove_node

        self.spec = remove_node(self.spec, node)
        return self

    def problems(self) -> list[Problem]:
        """Every problem of the workflow now (empty when it is valid)."""
        from pipelines.validation import validate_workflow

        return list(validate_workflow(self.spec, self._store))

    def validate(self) -> Workflow:
        """Raise `WorkflowInvalid` listing every problem, or return this handle."""
        from pipelines.workflow_io import check_workflow

        check_workflow(self.spec, self._store, self.name)
        return self

    def save(self, path: Path | str | None = None) -> Path:
        """Write the workflow (refused, nothing written, when it is invalid); comments are kept."""
        from pipelines.workflow_io import save_workflow

        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this workflow has no file yet: save(path)")
        save_workflow(self.spec, target, self._store)
        self.path = target
        return target

    def compile(self, output: Path | str | None = None) -> str:
        """The Kubeflow Pipelines v2 YAML (IR) of the workflow, from the kfp compiler, with the workspace's
        runtime image; written to `output` too when given."""
        from pipelines.compiler import compile_to_yaml
        from tessera.workspace import write_atomically

        text = compile_to_yaml(self.spec, self._store, runtime_image=self._runtime_image)
        if output is not None:
            write_atomically(Path(output), text)
        return text

    def to_yaml(self) -> str:
        from pipelines.workflow_io import workflow_to_yaml

        return workflow_to_yaml(self.spec)

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, nodes={self.nodes})"

    def _repr_html_(self) -> str:
        from html import escape

        from tessera.sdk.display import workflow_svg

        return f"<div><b>{escape(self.name)}</b> {escape(self.spec.description)}<br>{workflow_svg(self.spec)}</div>"
