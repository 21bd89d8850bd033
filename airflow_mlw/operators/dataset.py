"""Register (or bump) a dataset version at run time and announce new versions as Asset events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import AssetAlias, BaseOperator

from airflow_mlw.operators.datastore import workspace_or_configured

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.workspace import Workspace


class RegisterDatasetOperator(BaseOperator):
    """Register the files at ``path`` as a dataset version; push ``{name, version, fingerprint, id}``.

    A new version adds an Asset event for ``mlw-dataset://<workspace>/<name>`` with
    ``{version, fingerprint}`` in its extra (through an AssetAlias outlet, so an unchanged
    re-registration emits nothing), and a lineage row naming this DAG run and task.

    :param name: dataset name (templated)
    :param path: glob on the datastore (templated)
    :param datastore_name: datastore (templated; default: the workspace's default)
    :param dataset_type: ``file`` or ``tabular`` (delimited files)
    :param read_options: keyword arguments of ``from_delimited_files`` for tabular datasets
    :param create_new_version: register a new version when the files changed (default True)
    :param snapshot: copy the files into content-addressed storage
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("name", "path", "datastore_name", "description")

    def __init__(
        self,
        *,
        name: str,
        path: str,
        datastore_name: str | None = None,
        dataset_type: str = "file",
        read_options: dict[str, Any] | None = None,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        create_new_version: bool = True,
        snapshot: bool = False,
        workspace: Workspace | None = None,
        **kwargs: Any,
    ) -> None:
        if dataset_type not in ("file", "tabular"):
            raise ValueError(f"dataset_type must be 'file' or 'tabular', not {dataset_type!r}")
        self.alias = AssetAlias(name=f"mlw-dataset-versions-{kwargs.get('task_id', name)}")
        kwargs["outlets"] = [*kwargs.get("outlets", []), self.alias]
        super().__init__(**kwargs)
        self.name = name
        self.path = path
        self.datastore_name = datastore_name
        self.dataset_type = dataset_type
        self.read_options = read_options or {}
        self.description = description
        self.tags = tags
        self.create_new_version = create_new_version
        self.snapshot = snapshot
        self.workspace = workspace

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlw.datasets import Dataset, dataset_asset
        from airflow_mlw.datastores import Datastore

        ws = workspace_or_configured(self.workspace)
        source = (Datastore(ws, self.datastore_name), self.path)
        definition: Any
        if self.dataset_type == "tabular":
            definition = Dataset.Tabular.from_delimited_files(source, **self.read_options)
        else:
            definition = Dataset.File.from_files(source)
        registered = definition.register(
            ws,
            self.name,
            description=self.description,
            tags=self.tags,
            create_new_version=self.create_new_version,
            snapshot=self.snapshot,
        )
        self._registered = registered
        reference = registered.reference()
        if registered._record.created:
            context["outlet_events"][self.alias].add(
                dataset_asset(self.name, ws),
                extra={"version": reference["version"], "fingerprint": reference["fingerprint"]},
            )
            self.log.info("registered %s version %d", self.name, reference["version"])
        else:
            self.log.info("%s unchanged: version %d", self.name, reference["version"])
        return reference

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """The files read and the version registered, as OpenLineage datasets."""
        from airflow_mlw.execution.lineage import registration_lineage

        return registration_lineage(workspace_or_configured(self.workspace), self._registered)
