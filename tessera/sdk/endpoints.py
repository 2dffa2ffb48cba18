"""`Endpoints` and `EndpointHandle`: deploy model versions as REST endpoints and call them with a
DataFrame; the bearer token is kept in the workspace (`.tessera/endpoints/NAME.token`, owner-only)."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any

from tessera.errors import TesseraError

if TYPE_CHECKING:
    from serving.endpoints import Endpoint
    from tessera.workspace import Workspace as WorkspaceFolder


class Endpoints:
    """The workspace's endpoints (local processes and KServe InferenceServices)."""

    def __init__(self, folder: WorkspaceFolder):
        self._folder = folder

    def list(self) -> list[Endpoint]:
        from serving.targets import local_target

        self._folder.state_dir.mkdir(exist_ok=True)
        return list(local_target(self._folder).list())

    def deploy(
        self, name: str, model: str, *, target: str = "local", canary: str | None = None, percent: int = 10,
        **options: Any,
    ) -> EndpointHandle:  # fmt: skip
        """Serve `model` (`name@alias`, followed as it moves, or `name/3`) as endpoint `name`.

        `options` are `serving.endpoints.EndpointRequest` fields (port, max_batch_rows, resources, …).
        The endpoint's token is kept for this workspace, so `predict` needs none.
        """
        from serving.endpoints import EndpointRequest
        from serving.targets import save_token, target_for

        self._folder.state_dir.mkdir(exist_ok=True)
        request = EndpointRequest(
            name=name, model=model, canary=canary, canary_percent=percent if canary else 0, **options
        )
        endpoint = target_for(self._folder, target).deploy(request)
        save_token(self._folder, name, endpoint.token or "")
        return EndpointHandle(self._folder, name)

    def _repr_html_(self) -> str:
        from tessera.sdk.display import table_html

        rows = [
            (escape(e.name), escape(e.status), escape(e.version_summary()), escape(e.url), escape(e.target))
            for e in self.list()
        ]
        return table_html("endpoints", ("endpoint", "status", "serves", "url", "target"), rows)


class EndpointHandle:
    """One endpoint: what it serves, and `predict(frame)` through its REST API as any caller would.

    Example:
        >>> answer = ws.endpoint("cheater-api").predict(players.head(5))  # doctest: +SKIP
        >>> answer[["predictions", "probabilities"]]  # doctest: +SKIP
    """

    def __init__(self, folder: WorkspaceFolder, name: str):
        self._folder = folder
        self.name = name

    def status(self) -> Endpoint:
        """What the endpoint serves now: status, URL, routes (version and share)."""
        return self._target().status(self.name)

    @property
    def url(self) -> str:
        return self.status().url

    def metadata(self) -> dict[str, Any]:
        """V2 model metadata: the versions served and the input columns with their types."""
        return self._client().metadata()

    def predict(self, rows: Any) -> Any:
        """Score rows (a pandas DataFrame, or a list of dicts) through the V1 REST API.

        Returns a DataFrame with one row per input row and a column per output the endpoint answers
        (`predictions`, `probabilities` as a list per row, …); `.attrs["model_version"]` says which
        version answered, `.attrs["request_id"]` the request's id in the prediction log. Missing values are sent as JSON nulls.
        """
        import pandas as pd

        if isinstance(rows, pd.DataFrame):
            records = rows.astype(object).where(rows.notna(), None).to_dict("records")
        else:
            records = list(rows)
        answer = self._client().predict(records)
        version, request_id = answer.pop("model_version", None), answer.pop("request_id", None)
        columns = {
            key: value for key, value in answer.items() if isinstance(value, list) and len(value) == len(records)
        }
        frame = pd.DataFrame(columns)
        frame.attrs["model_version"] = version
        frame.attrs["request_id"] = request_id  # in the prediction log: labels can be joined on it
        return frame

    def promote(self) -> Endpoint:
        """Send all traffic to the canary: it becomes what the endpoint serves."""
        return self._target().promote(self.name)

    def rollback(self) -> Endpoint:
        """Serve again what the endpoint served before its last change."""
        return self._target().rollback(self.name)

    def stop(self) -> Endpoint:
        """Stop a local endpoint's process (it keeps its settings and token; `start` brings it back)."""
        return self._local("stop").stop(self.name)

    def start(self) -> Endpoint:
        return self._local("start").start(self.name)

    def _local(self, action: str) -> Any:
        target = self._target()
        if not hasattr(target, action):
            raise TesseraError(
                f"endpoint '{self.name}' is an InferenceService: {action} it by scaling it, or delete it"
            )
        return target

    def delete(self) -> None:
        self._target().delete(self.name)

    def _target(self) -> Any:
        from serving.targets import target_of

        return target_of(self._folder, self.name)

    def new_token(self) -> str:
        """Issue a new bearer token (the old one stops working) and keep it for this workspace."""
        from serving.targets import save_token

        token = self._target().rotate_token(self.name).token or ""
        save_token(self._folder, self.name, token)
        return token

    def _client(self) -> Any:
        from serving.endpoint_client import EndpointClient

        path = self._folder.state_dir / "endpoints" / f"{self.name}.token"
        if not path.exists():
            raise TesseraError(
                f"this workspace keeps no token for endpoint '{self.name}' (it was deployed from the CLI, which "
                f"shows it once): issue one with ws.endpoint('{self.name}').new_token() (the old one stops working)"
            )
        token = path.read_text().strip()
        return EndpointClient(self.url, self.name, token)

    def __repr__(self) -> str:
        return f"EndpointHandle({self.name!r})"
