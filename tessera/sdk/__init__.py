"""Tessera's Python SDK: what the studio does, from a notebook or a script.

    ws = tessera.open()                                  Workspace   (workspace.py)
    ws.workflow("cheater_detection")                     Workflow    (workflows.py)
    ws.run("cheater_detection", params={...})            Run         (runs.py)
    ws.models.load("cheater-detector@champion")          Models      (models.py)
    ws.endpoint("cheater-api").predict(frame)            EndpointHandle (endpoints.py)
    @tessera.component(category="transform")             Components  (components.py)

Values come from the layers below (`pipelines`, `component_store`, `serving`); the classes here
are live handles on one workspace. Every heavy library is imported inside the call that needs it.
Notebook pictures (`_repr_html_`) are drawn by display.py.
"""

from tessera.sdk.components import Components, component
from tessera.sdk.endpoints import EndpointHandle, Endpoints
from tessera.sdk.models import Models
from tessera.sdk.runs import Run
from tessera.sdk.workflows import Workflow
from tessera.sdk.workspace import Workspace, open

__all__ = [
    "Components",
    "EndpointHandle",
    "Endpoints",
    "Models",
    "Run",
    "Workflow",
    "Workspace",
    "component",
    "open",
]
