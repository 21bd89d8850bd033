"""Datastores: the workspace's named views of storage.

A :class:`Datastore` is a reference (workspace + name); building one does no I/O, and its kind
and settings are read from the registry on first use.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import DatastoreExistsError, DatastoreNotFoundError, MlwError

if TYPE_CHECKING:
    from airflow_mlw.workspace import Workspace

LOCAL_KIND = "local"
#: Azure's ``datastore_type`` names per kind, for code that prints or compares them.
AZURE_TYPE_NAMES = {
    LOCAL_KIND: "LocalFolder",
    "s3": "S3Bucket",
    "azure_blob": "AzureBlob",
    "sql": "SqlDatabase",
}


class Datastore:
    """A datastore registered in a workspace.

    ``Datastore(ws, name)`` is a lazy reference as in Azure; ``name=None`` means the default
    datastore, and ``workspaceblobstore`` / ``workspacefilestore`` resolve to the default as well.

    :param workspace: the workspace the datastore is registered in
    :param name: the datastore's name
    """

    def __init__(self, workspace: Workspace, name: str | None = None) -> None:
        self.workspace = workspace
        self._requested_name = name

    @cached_property
    def name(self) -> str:
        if self._requested_name is None:
            return self.workspace.get_default_datastore().name
        return self.workspace.resolve_datastore_name(self._requested_name)

    @cached_property
    def _record(self) -> dict[str, Any]:
        from sqlalchemy import select

        from airflow_mlw.registry.models import DatastoreRow

        ws_id = self.workspace._workspace_id()
        with self.workspace.store.session() as session:
            row = session.scalar(
                select(DatastoreRow).where(DatastoreRow.workspace_id == ws_id, DatastoreRow.name == self.name)
            )
            if row is None:
                raise DatastoreNotFoundError(
                    f"datastore {self.name!r} is not registered in workspace {self.workspace.name!r}"
                )
            return {"kind": row.kind, "config": dict(row.config), "conn_id": row.conn_id}

    @property
    def kind(self) -> str:
        return str(self._record["kind"])

    @property
    def datastore_type(self) -> str:
        return AZURE_TYPE_NAMES.get(self.kind, self.kind)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._record["config"])

    def describe(self) -> dict[str, Any]:
        """Kind and settings, safe to print (no secrets are ever part of them)."""
        return {
            "kind": self.kind,
            **self.config,
            **({"conn_id": self._record["conn_id"]} if self._record["conn_id"] else {}),
        }

    # -- registry ----------------------------------------------------------------------------------

    @classmethod
    def get(cls, workspace: Workspace, datastore_name: str) -> Datastore:
        """The registered datastore ``datastore_name``; raises :class:`DatastoreNotFoundError`."""
        datastore = cls(workspace, datastore_name)
        datastore._record  # noqa: B018 - existence check
        return datastore

    @classmethod
    def get_default(cls, workspace: Workspace) -> Datastore:
        return workspace.get_default_datastore()

    @classmethod
    def list(cls, workspace: Workspace) -> list[Datastore]:
        from sqlalchemy import select

        from airflow_mlw.registry.models import DatastoreRow

        ws_id = workspace._workspace_id()
        with workspace.store.session() as session:
            rows = session.scalars(
                select(DatastoreRow).where(DatastoreRow.workspace_id == ws_id).order_by(DatastoreRow.name)
            ).all()
        result = []
        for row in rows:
            datastore = cls(workspace, row.name)
            datastore.__dict__["_record"] = {
                "kind": row.kind,
                "config": dict(row.config),
                "conn_id": row.conn_id,
            }
            result.append(datastore)
        return result

    @classmethod
    def register_local(cls, workspace: Workspace, datastore_name: str, root: str | Path) -> Datastore:
        """Register a local folder (on every worker, or a shared mount) as a datastore."""
        return cls._register(
            workspace, datastore_name, LOCAL_KIND, {"root": str(Path(root).expanduser().resolve())}
        )

    @classmethod
    def _register(
        cls,
        workspace: Workspace,
        datastore_name: str,
        kind: str,
        config: dict[str, Any],
        conn_id: str | None = None,
        secret: str | None = None,
        overwrite: bool = False,
    ) -> Datastore:
        from sqlalchemy import select

        from airflow_mlw.registry.models import DatastoreRow

        validate_datastore_name(datastore_name)
        ws_id = workspace._workspace_id()
        with workspace.store.session(write=True) as session:
            row = session.scalar(
                select(DatastoreRow).where(
                    DatastoreRow.workspace_id == ws_id, DatastoreRow.name == datastore_name
                )
            )
            if row is not None and not overwrite:
                raise DatastoreExistsError(
                    f"datastore {datastore_name!r} is already registered in workspace {workspace.name!r}"
                )
            if row is None:
                row = DatastoreRow(workspace_id=ws_id, name=datastore_name)
                session.add(row)
            row.kind, row.config, row.conn_id, row.secret = kind, config, conn_id, secret
        return cls.get(workspace, datastore_name)

    def __repr__(self) -> str:
        return f"Datastore(name={self._requested_name!r})"


def validate_datastore_name(name: str) -> None:
    """Azure's rule: letters, digits and underscores, starting with a letter or underscore."""
    if (
        not name
        or not (name[0].isalpha() or name[0] == "_")
        or not all(c.isalnum() or c == "_" for c in name)
    ):
        raise MlwError(
            f"invalid datastore name {name!r}: use letters, digits and underscores, starting with a letter"
        )
