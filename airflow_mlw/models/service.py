"""``Webservice``: the handle of a deployed scoring service, what it shows, and its lifecycle
(``run``, ``get_logs``, ``update`` without refusing a request, ``delete``, ``list``).

``update`` starts the new revision next to the old one (same listening socket), and only when its
``init()`` succeeded drains the old one: ``scoring_uri`` never refuses a request. A failed update
leaves the old revision serving.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_mlw.exceptions import WebserviceException
from airflow_mlw.models.revisions import config_of, resolve_model, scoring_spec, scoring_spec_like
from airflow_mlw.models.service_rows import forget_row, load_row, row_query, save_row

if TYPE_CHECKING:
    from airflow_mlw.models.containers import ServiceContainers
    from airflow_mlw.models.deployment_configs import DeploymentConfiguration
    from airflow_mlw.models.model import InferenceConfig, Model
    from airflow_mlw.workspace import Workspace

DEPLOY_TIMEOUT = 300.0


class Webservice:
    """A deployed scoring service; ``Webservice(ws, name)`` looks it up.

    :raises WebserviceException: no service of that name
    """

    compute_type: ClassVar[str] = "Inference"

    def __new__(cls, workspace: Any = None, name: str | None = None) -> Any:
        if workspace is None or name is None:
            return super().__new__(cls)
        row = load_row(workspace, name)
        local = row["compute_target"] is None
        from airflow_mlw.models.deployment_configs import LocalWebservice  # a subclass: a cycle at the top

        if cls is Webservice:
            cls = LocalWebservice if local else Webservice
        elif issubclass(cls, LocalWebservice) != local:
            raise WebserviceException(f"service {name!r} is not a {cls.__name__}")
        service = super().__new__(cls)
        service._setup(workspace, row)
        return service

    def __init__(self, workspace: Any = None, name: str | None = None) -> None:
        pass  # set up in __new__ / _setup

    def _setup(self, workspace: Workspace, row: dict[str, Any]) -> None:
        self.workspace = workspace
        self._row = row

    def _containers(self) -> ServiceContainers:
        from airflow_mlw.models.containers import ServiceContainers

        return ServiceContainers(self.workspace.name, self.name, self._row["config"].get("docker_url"))

    def update_deployment_state(self) -> None:
        """Re-read the service from the registry."""
        self._row = load_row(self.workspace, self.name)

    reload = update_deployment_state

    # -- what Azure's Webservice shows --------------------------------------------------------------

    @property
    def name(self) -> str:
        return str(self._row["name"])

    @property
    def state(self) -> str:
        """``Transitioning``, ``Healthy``, ``Unhealthy`` (containers gone or stopped) or ``Failed``."""
        self.update_deployment_state()
        state = str(self._row["state"])
        if state == "Healthy":
            containers = self._containers()
            config = self._row["config"]
            if not (
                containers.running(self._row["container_id"]) and containers.running(config.get("front"))
            ):
                return "Unhealthy"
        return state

    @property
    def scoring_uri(self) -> str | None:
        return self._row["scoring_uri"]

    @property
    def port(self) -> int | None:
        return self._row["config"].get("port")

    @property
    def error(self) -> str | None:
        return self._row["config"].get("error")

    @property
    def image_id(self) -> str | None:
        return self._row["config"].get("image")

    @property
    def compute_target_name(self) -> str | None:
        return self._row["compute_target"]

    @property
    def created_time(self) -> datetime:
        return self._row["created_at"]  # type: ignore[no-any-return]

    @property
    def updated_time(self) -> datetime:
        return self._row["updated_at"]  # type: ignore[no-any-return]

    @property
    def models(self) -> list[Model]:
        from airflow_mlw.models.model import Model
        from airflow_mlw.models.versions import load_by_id

        return [
            Model._from_record(self.workspace, load_by_id(self.workspace, i))
            for i in self._row["model_version_ids"]
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, state={self._row['state']!r}, scoring_uri={self.scoring_uri!r})"

    # -- using it -----------------------------------------------------------------------------------

    def wait_for_deployment(self, show_output: bool = False, timeout_sec: float | None = None) -> None:
        """Wait while another process deploys it; raise with the reason and log tail if it failed."""
        deadline = time.monotonic() + (timeout_sec or DEPLOY_TIMEOUT)
        while (state := self.state) == "Transitioning" and time.monotonic() < deadline:
            time.sleep(0.5)
        if show_output:
            print(
                f"{type(self).__name__} {self.name!r}: {state}"
                + (f" at {self.scoring_uri}" if state == "Healthy" else "")
            )
        if state != "Healthy":
            raise WebserviceException(
                self.error or f"service {self.name!r} is {state}; see service.get_logs() and deploy it again"
            )

    def run(self, input_data: Any) -> Any:
        """POST ``input_data`` (a JSON string, or a value to serialise) to ``scoring_uri``; the
        deserialised answer of the entry script's ``run()``."""
        if not self.scoring_uri:
            raise WebserviceException(
                f"service {self.name!r} has no scoring URI (state {self._row['state']})"
            )
        body = input_data if isinstance(input_data, str | bytes) else json.dumps(input_data)
        request = urllib.request.Request(
            self.scoring_uri,
            data=body.encode() if isinstance(body, str) else body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except (ValueError, AttributeError):
                pass
            raise WebserviceException(f"service {self.name!r} answered HTTP {exc.code}: {detail}") from None
        except urllib.error.URLError as exc:
            raise WebserviceException(
                f"service {self.name!r} at {self.scoring_uri} does not answer: {exc.reason}"
            ) from None

    def get_logs(self, num_lines: int = 5000, init: bool = False) -> str:
        """The scoring container's log (for a failed deployment: the log it left)."""
        self.update_deployment_state()
        if self._row["state"] == "Failed" or not self._row["container_id"]:
            return str(self._row["config"].get("logs") or "")
        return self._containers().logs(self._row["container_id"], num_lines)

    # -- changing it --------------------------------------------------------------------------------

    def update(
        self,
        models: list[Any] | None = None,
        inference_config: InferenceConfig | None = None,
        deployment_config: DeploymentConfiguration | None = None,
        **_azure_only: Any,
    ) -> None:
        """Replace the running revision without a window where ``scoring_uri`` refuses requests: the
        new container starts beside the old one, and the old one drains once the new one is ready.

        :param models: new models (default: the deployed ones)
        :param inference_config: new entry script, source folder or environment (default: as deployed)
        :param deployment_config: new CPU and memory limits (the port stays)
        """
        config = self._claim_for_update(deployment_config)
        if deployment_config is not None:
            config["limits"] = deployment_config.limits()
        containers = self._containers()
        try:
            if not containers.running(config["front"]):
                raise WebserviceException(
                    f"service {self.name!r} is Unhealthy: its front container is gone; deploy it again "
                    "with overwrite=True"
                )
            if inference_config is None and not containers.running(self._row["container_id"]):
                raise WebserviceException(
                    f"service {self.name!r} has no running revision to take the source from: pass inference_config"
                )
            chosen = [resolve_model(self.workspace, m) for m in models] if models is not None else self.models
            if inference_config is not None:
                spec = scoring_spec(
                    self.workspace,
                    chosen,
                    inference_config,
                    config["revision"] + 1,
                    config.get("docker_url"),
                    config.get("limits") or {},
                )
            else:
                spec = scoring_spec_like(
                    self.workspace, chosen, config, containers.source_of(self._row["container_id"])
                )
            new_id = containers.start_scoring(config["front"], spec)
            try:
                containers.wait_ready(new_id, DEPLOY_TIMEOUT)
            except WebserviceException as exc:
                containers.drain(new_id)
                raise WebserviceException(
                    f"update of service {self.name!r} failed; the previous revision keeps serving.\n{exc}"
                ) from None
        except BaseException:
            save_row(self.workspace, self.name, state="Healthy")
            raise
        old_id = self._row["container_id"]
        save_row(
            self.workspace,
            self.name,
            state="Healthy",
            container_id=new_id,
            model_version_ids=[m._record.id for m in chosen],
            config={**config, **config_of(spec), "error": None, "logs": None},
        )
        containers.drain(old_id)
        self.update_deployment_state()

    def _claim_for_update(self, deployment_config: DeploymentConfiguration | None) -> dict[str, Any]:
        with self.workspace.store.session(write=True) as session:
            row = row_query(session, self.workspace, self.name)
            if row is None:
                raise WebserviceException(
                    f"service {self.name!r} no longer exists in workspace {self.workspace.name!r}"
                )
            if row.state != "Healthy":
                raise WebserviceException(
                    f"service {self.name!r} is {row.state}: update needs a Healthy service "
                    "(deploy it again with overwrite=True)"
                )
            port = getattr(deployment_config, "port", None)
            if port is not None and port != row.config.get("port"):
                raise WebserviceException(
                    f"service {self.name!r} listens on port {row.config.get('port')}; moving it to {port} "
                    "needs a new deployment (Model.deploy(..., overwrite=True))"
                )
            row.state = "Transitioning"
            return dict(row.config)

    def delete(self) -> None:
        """Drain and remove its containers, then forget it."""
        self._containers().remove_all()
        forget_row(self.workspace, self.name)

    @staticmethod
    def list(
        workspace: Workspace,
        compute_type: str | None = None,
        model_name: str | None = None,
        **_azure_only: Any,
    ) -> list[Webservice]:
        """Services of the workspace, by name (``compute_type``: ``"Local"`` or ``"Inference"``)."""
        from sqlalchemy import select

        from airflow_mlw.registry.rows import WebserviceRow

        with workspace.store.session() as session:
            names = session.scalars(
                select(WebserviceRow.name)
                .where(WebserviceRow.workspace_id == workspace._workspace_id())
                .order_by(WebserviceRow.name)
            ).all()
        services = [Webservice(workspace, name) for name in names]
        if compute_type is not None:
            services = [s for s in services if s.compute_type == compute_type]
        if model_name is not None:
            services = [s for s in services if any(m.name == model_name for m in s.models)]
        return services


def find_service(workspace: Workspace, name: str) -> Webservice | None:
    """The service ``name``, or ``None`` when the workspace has none of that name."""
    with workspace.store.session() as session:
        exists = row_query(session, workspace, name) is not None
    return Webservice(workspace, name) if exists else None
