"""Operators that move a folder between the worker and a datastore."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.workspace import Workspace


def workspace_or_configured(workspace: Workspace | None) -> Workspace:
    from airflow_mlw.workspace import Workspace

    return workspace if workspace is not None else Workspace.from_config()


class DatastoreUploadOperator(BaseOperator):
    """Upload a local folder (on the worker) to a datastore path.

    :param datastore_name: registered datastore (``workspaceblobstore`` means the default)
    :param src_dir: local folder to upload (templated)
    :param target_path: path on the datastore (templated; ``None`` or ``/`` is the root)
    :param overwrite: replace differing files instead of failing
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("datastore_name", "src_dir", "target_path")

    def __init__(
        self,
        *,
        datastore_name: str,
        src_dir: str,
        target_path: str | None = None,
        overwrite: bool = False,
        workspace: Workspace | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datastore_name = datastore_name
        self.src_dir = src_dir
        self.target_path = target_path
        self.overwrite = overwrite
        self.workspace = workspace

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlw.datastores import Datastore

        datastore = Datastore.get(workspace_or_configured(self.workspace), self.datastore_name)
        report = datastore.upload(self.src_dir, self.target_path, overwrite=self.overwrite)
        self._lineage = (datastore.name, self.target_path or "", report.bytes)
        return {
            "datastore": datastore.name,
            "target_path": self.target_path or "",
            "transferred": len(report.transferred),
            "skipped": len(report.skipped),
            "bytes": report.bytes,
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The local folder in, the datastore path out, as OpenLineage datasets."""
        from airflow_mlw.execution.lineage import transfer_lineage

        datastore, path, size = self._lineage
        ws = workspace_or_configured(self.workspace)
        return transfer_lineage(ws, datastore, path, self.src_dir, size, upload=True)


class DatastoreDownloadOperator(BaseOperator):
    """Download files at or below a datastore prefix into a local folder on the worker.

    :param datastore_name: registered datastore
    :param target_path: local folder (templated)
    :param prefix: datastore path prefix, whole segments (templated)
    :param overwrite: replace differing local files instead of failing
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("datastore_name", "target_path", "prefix")

    def __init__(
        self,
        *,
        datastore_name: str,
        target_path: str,
        prefix: str | None = None,
        overwrite: bool = False,
        workspace: Workspace | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.datastore_name = datastore_name
        self.target_path = target_path
        self.prefix = prefix
        self.overwrite = overwrite
        self.workspace = workspace

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlw.datastores import Datastore

        datastore = Datastore.get(workspace_or_configured(self.workspace), self.datastore_name)
        report = datastore.download(self.target_path, self.prefix, overwrite=self.overwrite)
        self._lineage = (datastore.name, self.prefix or "", report.bytes)
        return {
            "datastore": datastore.name,
            "target_path": self.target_path,
            "transferred": len(report.transferred),
            "skipped": len(report.skipped),
            "bytes": report.bytes,
        }

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The datastore path in, the local folder out, as OpenLineage datasets."""
        from airflow_mlw.execution.lineage import transfer_lineage

        datastore, path, size = self._lineage
        ws = workspace_or_configured(self.workspace)
        return transfer_lineage(ws, datastore, path, self.target_path, size, upload=False)
