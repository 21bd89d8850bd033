"""The workspace: a named registry plus a default datastore.

Constructing a :class:`Workspace` does no I/O: settings are resolved and the registry opened on
first use, so DAG files can build workspaces at parse time for free.
"""

from __future__ import annotations

import json
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.config import DEFAULT_DATASTORE_NAME, MlwSettings, load_settings
from airflow_mlw.exceptions import WorkspaceExistsError, WorkspaceNotFoundError

#: ``ws.location`` of every workspace: the Azure region's counterpart here.
LOCATION = "local"
#: Workspaces whose ``get_mlflow_tracking_uri()`` this process called, by name: ``mlw://<name>``
#: reaches that very object (its registry and config), not only the configured workspace.
_MLFLOW_WORKSPACES: dict[str, Workspace] = {}

if TYPE_CHECKING:
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.registry.store import RegistryStore


class Workspace:
    """A workspace in the registry.

    Azure's signature is kept so ported code runs; the Azure-only values are kept for display and
    are strings, as Azure's are (``location`` is ``"local"``, the other two empty by default), so
    ``'Azure region: ' + ws.location`` works.

    :param subscription_id: Azure only; kept for display
    :param resource_group: Azure only; kept for display
    :param workspace_name: name of the workspace in the registry; must exist at first use
    :param registry_url: SQLAlchemy URL of the registry (default: the configured one)
    """

    def __init__(
        self,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        workspace_name: str | None = None,
        auth: Any = None,
        _location: str | None = None,
        *,
        registry_url: str | None = None,
        _config_path: str | os.PathLike[str] | None = None,
        _create_if_missing: bool = False,
    ) -> None:
        self.subscription_id: str = subscription_id or ""
        self.resource_group: str = resource_group or ""
        self.location: str = _location or LOCATION
        self._workspace_name = workspace_name
        self._registry_url = registry_url
        self._config_path = _config_path
        self._create_if_missing = _create_if_missing
        self._row_id: int | None = None
        self._row_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (published pipelines) by name: the reader resolves its own settings and registry.
        A registry URL holding a password is left out (the reader's ``[mlw] registry_url`` applies)."""
        registry_url = self._registry_url
        if registry_url:
            from airflow_mlw.registry.store import has_password

            if has_password(registry_url):
                registry_url = None
        return {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "location": self.location,
            "_workspace_name": self.name,
            "_registry_url": registry_url,
            "_config_path": None,
            "_create_if_missing": False,
            "_row_id": None,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        # Pickled before these were strings.
        self.subscription_id = self.subscription_id or ""
        self.resource_group = self.resource_group or ""
        self.location = self.location or LOCATION
        self._row_lock = threading.Lock()

    # -- construction -----------------------------------------------------------------------------

    @classmethod
    def from_config(
        cls,
        path: str | os.PathLike[str] | None = None,
        auth: Any = None,
        _logger: Any = None,
        _file_name: Any = None,
    ) -> Workspace:
        """The configured workspace (DESIGN.md §3 discovery order), created in its registry on first use.

        :param path: a config file, or a folder holding ``.mlw/config.json`` or ``config.json``
        """
        return cls(_config_path=path, _create_if_missing=True)

    @classmethod
    def create(
        cls,
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        create_resource_group: bool = True,
        sku: str = "basic",
        tags: dict[str, str] | None = None,
        friendly_name: str | None = None,
        exist_ok: bool = False,
        show_output: bool = True,
        *,
        registry_url: str | None = None,
        default_datastore: str | None = None,
        description: str | None = None,
    ) -> Workspace:
        """Create a workspace in the registry (with its built-in local datastore) and return it.

        :param name: workspace name, unique in the registry
        :param exist_ok: return the existing workspace instead of failing
        :param registry_url: registry to create it in (default: the configured one)
        :param default_datastore: name of the default datastore (default: ``workspacelocalstore``)
        """
        ws = cls(subscription_id, resource_group, name, auth, location, registry_url=registry_url)
        ws._row_id = ws._create_row(
            exist_ok=exist_ok, default_datastore=default_datastore, tags=tags, description=description
        )
        return ws

    @classmethod
    def get(
        cls,
        name: str,
        auth: Any = None,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        location: str | None = None,
        cloud: str = "AzureCloud",
        id: str | None = None,
        *,
        registry_url: str | None = None,
    ) -> Workspace:
        """The existing workspace ``name``; raises :class:`WorkspaceNotFoundError` if there is none."""
        ws = cls(subscription_id, resource_group, name, auth, location, registry_url=registry_url)
        ws._workspace_id()
        return ws

    @classmethod
    def list(
        cls, subscription_id: str | None = None, *, registry_url: str | None = None
    ) -> dict[str, list[Workspace]]:
        """Every workspace in the registry, by name (Azure's shape: name -> list of workspaces)."""
        from sqlalchemy import select

        from airflow_mlw.registry.rows import WorkspaceRow

        probe = cls(registry_url=registry_url)
        with probe.store.session() as session:
            names = session.scalars(select(WorkspaceRow.name).order_by(WorkspaceRow.name)).all()
        return {name: [cls(workspace_name=name, registry_url=registry_url)] for name in names}

    # -- settings and registry ----------------------------------------------------------------------

    @cached_property
    def settings(self) -> MlwSettings:
        """Resolved settings (config file, Airflow ``[mlw]``, defaults); read on first access."""
        return load_settings(
            self._config_path, workspace_name=self._workspace_name, registry_url=self._registry_url
        )

    @property
    def name(self) -> str:
        return self._workspace_name or self.settings.workspace_name

    @property
    def store(self) -> RegistryStore:
        from airflow_mlw.registry.store import get_store

        return get_store(self.settings.registry_url)

    @property
    def registry_url(self) -> str:
        """The registry URL with its password masked."""
        return self.store.masked_url

    def _workspace_id(self) -> int:
        """Registry id of this workspace, looked up (or created, for configured workspaces) once."""
        if self._row_id is None:
            with self._row_lock:
                if self._row_id is None:
                    self._row_id = self._lookup_or_create()
        return self._row_id

    def _lookup_or_create(self) -> int:
        from sqlalchemy import select

        from airflow_mlw.registry.rows import WorkspaceRow

        with self.store.session() as session:
            row_id = session.scalar(select(WorkspaceRow.id).where(WorkspaceRow.name == self.name))
        if row_id is not None:
            return row_id
        if not self._create_if_missing:
            raise WorkspaceNotFoundError(
                f"workspace {self.name!r} not found in registry {self.registry_url}; "
                f"create it with Workspace.create({self.name!r}) or `mlw workspace init --name {self.name}`"
            )
        return self._create_row(exist_ok=True)

    def _create_row(
        self,
        *,
        exist_ok: bool,
        default_datastore: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
    ) -> int:
        from sqlalchemy import select

        from airflow_mlw.datastores import LOCAL_KIND
        from airflow_mlw.registry.rows import DatastoreRow, WorkspaceRow

        with self.store.session(write=True) as session:
            existing = session.scalar(select(WorkspaceRow.id).where(WorkspaceRow.name == self.name))
            if existing is not None:
                if exist_ok:
                    return existing
                raise WorkspaceExistsError(
                    f"workspace {self.name!r} already exists in registry {self.registry_url}"
                )
            row = WorkspaceRow(
                name=self.name,
                description=description,
                default_datastore=default_datastore or self.settings.default_datastore,
                tags=dict(tags or {}),
            )
            session.add(row)
            session.flush()
            session.add(
                DatastoreRow(
                    workspace_id=row.id,
                    name=DEFAULT_DATASTORE_NAME,
                    kind=LOCAL_KIND,
                    config={"root": str(self.settings.data_root / self.name)},
                )
            )
            return row.id

    # -- datastores ---------------------------------------------------------------------------------

    def get_default_datastore(self) -> Datastore:
        """The workspace's default datastore (``workspacelocalstore`` unless set otherwise)."""
        from sqlalchemy import select

        from airflow_mlw.datastores import Datastore
        from airflow_mlw.registry.rows import WorkspaceRow

        workspace_id = self._workspace_id()
        with self.store.session() as session:
            name = session.scalar(
                select(WorkspaceRow.default_datastore).where(WorkspaceRow.id == workspace_id)
            )
        assert name is not None
        return Datastore.get(self, name)

    def set_default_datastore(self, name: str) -> None:
        """Make the registered datastore ``name`` the default."""
        from sqlalchemy import update

        from airflow_mlw.datastores import Datastore
        from airflow_mlw.registry.rows import WorkspaceRow

        datastore = Datastore.get(self, name)
        with self.store.session(write=True) as session:
            session.execute(
                update(WorkspaceRow)
                .where(WorkspaceRow.id == self._workspace_id())
                .values(default_datastore=datastore.name)
            )

    @property
    def datastores(self) -> dict[str, Datastore]:
        """Registered datastores by name."""
        from airflow_mlw.datastores import Datastore

        return {ds.name: ds for ds in Datastore.list(self)}

    @property
    def compute_targets(self) -> dict[str, Any]:
        """Compute targets by name (``local`` always present)."""
        from airflow_mlw.compute import ComputeTarget

        return {target.name: target for target in ComputeTarget.list(self)}

    @property
    def environments(self) -> dict[str, Any]:
        """Latest version of every environment, curated ``MLW-*`` ones included."""
        from airflow_mlw.environments.spec import Environment

        return Environment.list(self)

    @property
    def experiments(self) -> dict[str, Any]:
        from airflow_mlw.runs import Experiment

        return {experiment.name: experiment for experiment in Experiment.list(self)}

    @property
    def datasets(self) -> dict[str, Any]:
        """Latest version of every registered dataset, by name (Azure's ``ws.datasets``)."""
        from airflow_mlw.datasets import Dataset

        return dict(Dataset.get_all(self))

    @property
    def models(self) -> dict[str, Any]:
        """Latest version of every registered model, by name (Azure's ``ws.models``)."""
        from airflow_mlw.models.model import Model

        return {model.name: model for model in Model.list(self, latest=True)}

    @property
    def webservices(self) -> dict[str, Any]:
        """Scoring services by name (Azure's ``ws.webservices``)."""
        from airflow_mlw.models.service import Webservice

        return {service.name: service for service in Webservice.list(self)}

    def resolve_datastore_name(self, name: str) -> str:
        """Azure's built-in names ``workspaceblobstore`` / ``workspacefilestore`` mean the default."""
        if name in ("workspaceblobstore", "workspacefilestore"):
            return self.get_default_datastore().name
        return name

    # -- MLflow --------------------------------------------------------------------------------------

    def get_mlflow_tracking_uri(self, _with_auth: bool = False) -> str:
        """``mlw://<workspace>``, for ``mlflow.set_tracking_uri``: MLflow runs become this workspace's
        runs (``airflow_mlw.runs.mlflow_tracking``). Submitted scripts get it as ``MLFLOW_TRACKING_URI``."""
        from airflow_mlw.runtime import mlflow_tracking_uri

        _MLFLOW_WORKSPACES[self.name] = self
        return mlflow_tracking_uri(self.name)

    @classmethod
    def for_mlflow(cls, name: str) -> Workspace:
        """The workspace of an ``mlw://<name>`` URI: the one whose ``get_mlflow_tracking_uri()`` gave
        it in this process, else the configured workspace of that name, else ``name`` in the
        configured registry (``WorkspaceNotFoundError`` when it has none)."""
        if name in _MLFLOW_WORKSPACES:
            return _MLFLOW_WORKSPACES[name]
        configured = cls.from_config()
        if configured.name == name:
            return configured
        return cls.get(name)

    # -- display ------------------------------------------------------------------------------------

    def get_details(self) -> dict[str, Any]:
        """What the workspace holds, as a dict: Azure's ``get_details`` keys where they mean something
        here (``id``, ``name``, ``location``, ``resourceGroup``, ``subscriptionId``, ``workspaceid``,
        ``description``, ``friendlyName``, ``tags``, ``creationTime``, ``provisioningState``), then
        this workspace's registry, home and datastores."""
        from airflow_mlw.registry.rows import WorkspaceRow

        workspace_id = self._workspace_id()
        with self.store.session() as session:
            row = session.get(WorkspaceRow, workspace_id)
            assert row is not None
            description, tags, created = row.description, dict(row.tags or {}), row.created_at
        default = self.get_default_datastore()
        return {
            "id": self._azure_id(),
            "name": self.name,
            "location": self.location,
            "resourceGroup": self.resource_group,
            "subscriptionId": self.subscription_id,
            "type": "Microsoft.MachineLearningServices/workspaces",
            "workspaceid": str(workspace_id),
            "description": description or "",
            "friendlyName": self.name,
            "tags": tags,
            "creationTime": created.isoformat() if created else None,
            "provisioningState": "Succeeded",
            "registry": self.registry_url,
            "config_source": self.settings.source,
            "home": self.settings.home,
            "default_datastore": default.name,
            "datastores": {name: ds.describe() for name, ds in sorted(self.datastores.items())},
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
        }

    def _azure_id(self) -> str:
        """Azure's resource id shape when subscription and resource group are given, else ``/workspaces/<name>``."""
        own = f"/workspaces/{self.name}"
        if self.subscription_id and self.resource_group:
            return (
                f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
                f"/providers/Microsoft.MachineLearningServices{own}"
            )
        return own

    def write_config(self, path: str | os.PathLike[str] | None = None, file_name: str | None = None) -> Path:
        """Write ``.mlw/config.json`` naming this workspace and its registry (Azure's ``write_config``)."""
        folder = Path(path or ".") / ".mlw"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / (file_name or "config.json")
        data = {
            "workspace_name": self.name,
            "registry_url": self.settings.registry_url,
            "home": self.settings.home,
        }
        target.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return target

    def __repr__(self) -> str:
        return f"Workspace.create(name={self.name!r}, subscription_id={self.subscription_id!r}, resource_group={self.resource_group!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Workspace) and (self.name, self.settings.registry_url) == (
            other.name,
            other.settings.registry_url,
        )

    def __hash__(self) -> int:
        return hash(self.name)
