"""Datastores: the workspace's named views of storage.

A :class:`Datastore` is a reference (workspace + name); building one does no I/O, and its kind
and settings are read from the registry on first use.
"""

from __future__ import annotations

import importlib
import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores import sql
from airflow_mlw.exceptions import DatastoreExistsError, DatastoreNotFoundError, MlwError

if TYPE_CHECKING:
    from airflow_mlw.datastores.base import FileInfo, StorageBackend
    from airflow_mlw.datastores.reference import DataReference
    from airflow_mlw.datastores.transfer import TransferReport
    from airflow_mlw.workspace import Workspace

LOCAL_KIND = "local"
S3_KIND = "s3"
AZURE_BLOB_KIND = "azure_blob"
SQL_KIND = sql.SQL_KIND

#: Storage backend of each kind, imported when first used, with what to install when that fails.
BACKENDS: dict[str, dict[str, str]] = {
    LOCAL_KIND: {"class": "airflow_mlw.datastores.local.LocalBackend", "err": ""},
    S3_KIND: {
        "class": "airflow_mlw.datastores.s3.S3Backend",
        "err": "S3 datastores need the s3 extra: pip install 'airflow-mlw[s3]'",
    },
    AZURE_BLOB_KIND: {
        "class": "airflow_mlw.datastores.azure_blob.AzureBlobBackend",
        "err": "Azure Blob datastores need the azure extra: pip install 'airflow-mlw[azure]'",
    },
}
#: Azure's ``datastore_type`` names per kind, for code that prints or compares them.
AZURE_TYPE_NAMES = {
    LOCAL_KIND: "LocalFolder",
    "s3": "S3Bucket",
    "azure_blob": "AzureBlob",
    "sql": "SqlDatabase",
}


class ClassOrInstanceMethod:
    """One name, two methods: called on the class or on an instance (``Datastore.list``)."""

    def __init__(self, on_class: Any, on_instance: Any) -> None:
        self.on_class = on_class.__func__ if isinstance(on_class, classmethod) else on_class
        self.on_instance = on_instance

    def __get__(self, instance: Any, owner: type) -> Any:
        if instance is None:
            return self.on_class.__get__(owner, owner)
        return self.on_instance.__get__(instance, owner)


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

    def __getstate__(self) -> dict[str, Any]:
        """Pickled (published pipelines) as a reference: no cached record, backend or credential."""
        return {"workspace": self.workspace, "_requested_name": self._requested_name}

    @cached_property
    def name(self) -> str:
        if self._requested_name is None:
            return self.workspace.get_default_datastore().name
        return self.workspace.resolve_datastore_name(self._requested_name)

    @cached_property
    def _record(self) -> dict[str, Any]:
        from sqlalchemy import select

        from airflow_mlw.registry.rows import DatastoreRow

        ws_id = self.workspace._workspace_id()
        with self.workspace.store.session() as session:
            row = session.scalar(
                select(DatastoreRow).where(DatastoreRow.workspace_id == ws_id, DatastoreRow.name == self.name)
            )
            if row is None:
                raise DatastoreNotFoundError(
                    f"datastore {self.name!r} is not registered in workspace {self.workspace.name!r}"
                )
            return _record_of(row)

    @property
    def kind(self) -> str:
        return str(self._record["kind"])

    @property
    def datastore_type(self) -> str:
        if self.kind == SQL_KIND:
            return sql.datastore_type(self.config)
        return AZURE_TYPE_NAMES.get(self.kind, self.kind)

    @property
    def config(self) -> dict[str, Any]:
        return dict(self._record["config"])

    @property
    def conn_id(self) -> str | None:
        return self._record["conn_id"]  # type: ignore[no-any-return]

    def describe(self) -> dict[str, Any]:
        """Kind and settings, safe to print (secrets are never part of them)."""
        described = {"kind": self.kind, **self.config}
        if self.conn_id:
            described["conn_id"] = self.conn_id
        if self._record["secret"]:
            described["credential"] = "stored encrypted"
        elif self.kind == AZURE_BLOB_KIND and not self.conn_id:
            described["credential"] = "none (anonymous, read-only)"
        return described

    # -- storage -----------------------------------------------------------------------------------

    @cached_property
    def backend(self) -> StorageBackend:
        """The storage backend of this datastore's kind (no I/O until a method is called)."""
        from airflow_mlw.datastores.checksums import memo_for_home

        entry = BACKENDS.get(self.kind)
        if entry is None:
            raise MlwError(f"datastore {self.name!r} of kind {self.kind!r} holds no files")
        module, _, name = entry["class"].rpartition(".")
        try:
            backend_class = getattr(importlib.import_module(module), name)
        except ImportError:
            raise MlwError(f"datastore {self.name!r}: {entry['err']}") from None
        return backend_class.for_datastore(self, memo_for_home(self.workspace.settings.home))  # type: ignore[no-any-return]

    def upload(
        self,
        src_dir: str | os.PathLike[str],
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> TransferReport:
        """Upload the folder ``src_dir`` to ``target_path`` (``None`` or ``/``: the datastore root).

        Files already there with the same size and checksum are skipped; a differing one is replaced
        only with ``overwrite=True``, otherwise nothing is uploaded and the error names it.
        """
        from airflow_mlw.datastores.transfer import upload_tree

        return upload_tree(
            self.backend,
            src_dir,
            target_path,
            overwrite=overwrite,
            show_progress=show_progress,
            where=self._where,
        )

    def upload_files(
        self,
        files: list[str | os.PathLike[str]],
        relative_root: str | os.PathLike[str] | None = None,
        target_path: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> TransferReport:
        """Upload single files; each keeps its path relative to ``relative_root`` below ``target_path``.

        :param relative_root: defaults to the folder that holds all of ``files``
        """
        from airflow_mlw.datastores.paths import join_path, normalize_path
        from airflow_mlw.datastores.transfer import upload_pairs

        local_files = [Path(f).resolve() for f in files]
        target = normalize_path(target_path, what="target_path")
        pairs = []
        if local_files:
            common = os.path.commonpath([p.parent for p in local_files])
            root = Path(relative_root).resolve() if relative_root else Path(common)
            for local in local_files:
                if not local.is_relative_to(root):
                    raise MlwError(f"file {local} is not below relative_root {root}")
                pairs.append((local, join_path(target, local.relative_to(root).as_posix())))
        return upload_pairs(
            self.backend, pairs, overwrite=overwrite, show_progress=show_progress, where=self._where
        )

    def download(
        self,
        target_path: str | os.PathLike[str],
        prefix: str | None = None,
        overwrite: bool = False,
        show_progress: bool = True,
    ) -> TransferReport:
        """Download files at or below ``prefix`` into ``target_path``, keeping their datastore paths.

        ``prefix`` matches whole path segments: ``data`` does not match ``data2/`` (unlike Azure).
        """
        from airflow_mlw.datastores.transfer import download_tree

        return download_tree(
            self.backend,
            target_path,
            prefix,
            overwrite=overwrite,
            show_progress=show_progress,
            where=self._where,
        )

    def _list_files(self, prefix: str | None = None) -> list[FileInfo]:
        """Files at or below ``prefix`` (whole segments), with sizes and store checksums."""
        from airflow_mlw.datastores.paths import normalize_path

        return sorted(self.backend.list(normalize_path(prefix, what="prefix")), key=lambda info: info.path)

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        """A reference to ``path`` on this datastore, for step inputs (Azure's ``datastore.path``)."""
        from airflow_mlw.datastores.reference import DataReference

        return DataReference(self, path_on_datastore=path, data_reference_name=data_reference_name)

    def as_mount(self) -> DataReference:
        return self.path().as_mount()

    def as_download(self, path_on_compute: str | None = None) -> DataReference:
        return self.path().as_download(path_on_compute)

    @property
    def _where(self) -> str:
        return f"datastore {self.name!r}"

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
    def _list_datastores(cls, workspace: Workspace) -> list[Datastore]:
        from sqlalchemy import select

        from airflow_mlw.registry.rows import DatastoreRow

        ws_id = workspace._workspace_id()
        with workspace.store.session() as session:
            rows = session.scalars(
                select(DatastoreRow).where(DatastoreRow.workspace_id == ws_id).order_by(DatastoreRow.name)
            ).all()
        result = []
        for row in rows:
            datastore = cls(workspace, row.name)
            datastore.__dict__["_record"] = _record_of(row)
            result.append(datastore)
        return result

    #: ``Datastore.list(ws)`` lists the workspace's datastores; ``datastore.list(prefix)`` its files.
    list = ClassOrInstanceMethod(_list_datastores, _list_files)

    @classmethod
    def register_local(
        cls,
        workspace: Workspace,
        datastore_name: str,
        root: str | Path | None = None,
        conn_id: str | None = None,
        overwrite: bool = False,
    ) -> Datastore:
        """Register a local folder (on every worker, or a shared mount) as a datastore.

        :param root: the folder
        :param conn_id: instead of ``root``, an ``mlw_local`` Airflow connection naming the folder,
            resolved on each worker at run time (mount points may differ between hosts)
        """
        if (root is None) == (conn_id is None):
            raise MlwError(f"datastore {datastore_name!r}: pass either root or conn_id")
        if root is not None and Path(root).expanduser().exists() and not Path(root).expanduser().is_dir():
            raise MlwError(f"datastore {datastore_name!r}: root {str(root)!r} is a file, not a folder")
        config = {"root": str(Path(root).expanduser().resolve())} if root is not None else {}
        return cls._register(
            workspace, datastore_name, LOCAL_KIND, config, conn_id=conn_id, overwrite=overwrite
        )

    @classmethod
    def register_s3_bucket(
        cls,
        workspace: Workspace,
        datastore_name: str,
        bucket_name: str,
        aws_conn_id: str = "aws_default",
        prefix: str | None = None,
        overwrite: bool = False,
    ) -> Datastore:
        """Register an S3 bucket (optionally a key prefix in it), reached through an Airflow ``aws`` connection."""
        from airflow_mlw.datastores.paths import normalize_path

        _check_bucket_name(bucket_name)
        config = {"bucket_name": bucket_name, "prefix": normalize_path(prefix, what="prefix")}
        return cls._register(
            workspace, datastore_name, S3_KIND, config, conn_id=aws_conn_id, overwrite=overwrite
        )

    @classmethod
    def register_azure_blob_container(
        cls,
        workspace: Workspace,
        datastore_name: str,
        container_name: str,
        account_name: str,
        sas_token: str | None = None,
        account_key: str | None = None,
        protocol: str | None = None,
        endpoint: str | None = None,
        overwrite: bool = False,
        create_if_not_exists: bool = False,
        skip_validation: bool = False,
        blob_cache_timeout: int | None = None,
        grant_workspace_access: bool = False,
        subscription_id: str | None = None,
        resource_group: str | None = None,
        *,
        conn_id: str | None = None,
    ) -> Datastore:
        """Register an Azure Blob container (Azure's signature).

        :param account_key: stored Fernet-encrypted with Airflow's key; never in clear text
        :param sas_token: stored like ``account_key``
        :param endpoint: Azure's suffix form (``core.windows.net``) or a full blob service URL
            (``http://127.0.0.1:10000/devstoreaccount1`` for Azurite)
        :param conn_id: an Airflow ``wasb`` connection to use instead of a key or token; with none
            of the three the container is read anonymously (public access) and writes are refused
        :param create_if_not_exists: create the container now
        """
        from airflow_mlw.datastores.azure_blob import AzureBlobBackend
        from airflow_mlw.datastores.checksums import ContentHashMemo
        from airflow_mlw.datastores.credentials import encrypt_secret

        _check_container_name(container_name)
        credential = (
            {"account_key": account_key} if account_key else {"sas_token": sas_token} if sas_token else None
        )
        secret = encrypt_secret(credential, workspace) if credential else None  # type: ignore[arg-type]
        if endpoint and "://" not in endpoint and protocol == "http":
            endpoint = f"http://{account_name}.blob.{endpoint}"
        config = {"container_name": container_name, "account_name": account_name, "endpoint": endpoint}
        backend = AzureBlobBackend(
            container_name, account_name, endpoint, credential, conn_id, ContentHashMemo(), datastore_name
        )
        if create_if_not_exists:
            backend.create_container()
        elif not skip_validation:
            backend.check_access()
        return cls._register(
            workspace,
            datastore_name,
            AZURE_BLOB_KIND,
            config,
            conn_id=conn_id,
            secret=secret,
            overwrite=overwrite,
        )

    # SQL databases: registration and hooks live in datastores/sql.py, with Azure's signatures.
    register_sql = classmethod(sql.register_sql)
    register_azure_postgre_sql = classmethod(sql.register_azure_postgre_sql)
    register_azure_my_sql = classmethod(sql.register_azure_my_sql)
    register_azure_sql_database = classmethod(sql.register_azure_sql_database)

    def sql_hook(self) -> Any:
        """The provider's DbApiHook of this SQL datastore (its Airflow connection or stored server)."""
        return sql.sql_hook(self)

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

        from airflow_mlw.registry.rows import DatastoreRow

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


def _record_of(row: Any) -> dict[str, Any]:
    return {"kind": row.kind, "config": dict(row.config), "conn_id": row.conn_id, "secret": row.secret}


def _check_bucket_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", name or ""):
        raise MlwError(f"invalid S3 bucket name {name!r}: 3-63 lowercase letters, digits, dots and hyphens")


def _check_container_name(name: str) -> None:
    import re

    if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", name or ""):
        raise MlwError(
            f"invalid Azure Blob container name {name!r}: 3-63 lowercase letters, digits and single hyphens"
        )


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
