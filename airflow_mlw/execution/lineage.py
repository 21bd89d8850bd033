"""A step's inputs and outputs as OpenLineage datasets (for ``apache-airflow-providers-openlineage``).

The provider's listener calls an operator's ``get_openlineage_facets_on_complete`` after the task;
the operators answer with :func:`step_lineage`. Names follow OpenLineage's naming spec:

- a registered dataset version: namespace ``mlw://<workspace>``, name the dataset's name, with the
  ``version`` facet and an ``mlwDataset`` facet (version, fingerprint, kind), and a ``symlinks``
  facet naming the storage it reads;
- a path on a datastore, as its URL says: ``file`` + the absolute path, ``s3://<bucket>`` + the
  key, ``wasbs://<container>@<host>`` + the blob name; a web URL as ``<scheme>://<host>`` + path;
- a step's committed output: its datastore path, with the fingerprint and the output statistics
  (files, bytes); registered as a dataset version, also that version.

SQL datastores have no file URL: their queries are left out (a datastore without ``uri``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import attrs

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_mlw.execution.inputs import StepInput
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)

#: Where the custom facet's JSON schema is described (OpenLineage asks every facet for one).
FACET_SCHEMA = "https://github.com/airflow-mlw/airflow-mlw/blob/main/README.md#openlineage"


def dataset_namespace(workspace_name: str) -> str:
    """The OpenLineage namespace of a workspace's registered datasets."""
    return f"mlw://{workspace_name}"


def name_of_uri(uri: str) -> tuple[str, str]:
    """(namespace, name) of a storage URL, as OpenLineage's naming spec splits it."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return "file", unquote(parts.path)  # Path.as_uri() quotes ':' and '+' of run ids
    return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")


def mlw_dataset_facet() -> type:
    """The ``mlwDataset`` facet class: a registered version's number, fingerprint and kind."""
    from openlineage.client.facet_v2 import DatasetFacet

    @attrs.define
    class MlwDatasetFacet(DatasetFacet):  # type: ignore[misc]
        version: int
        fingerprint: str
        kind: str

        @staticmethod
        def _get_schema() -> str:
            return f"{FACET_SCHEMA}-mlwdatasetfacet"

    return MlwDatasetFacet


def storage_dataset(
    uri: str, fingerprint: str | None = None, statistics: dict[str, int] | None = None
) -> Any:
    """An OpenLineage dataset for a storage location (and, for an output, what was written)."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset, output_statistics_output_dataset

    namespace, name = name_of_uri(uri)
    facets: dict[str, Any] = {}
    if fingerprint:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=fingerprint)
    if statistics is None:
        return InputDataset(namespace, name, facets=facets)
    output_facets: dict[str, Any] = {
        "outputStatistics": output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(
            rowCount=None, size=statistics.get("bytes"), fileCount=statistics.get("files")
        )
    }
    return OutputDataset(namespace, name, facets=facets, outputFacets=output_facets)


def registered_dataset(ws: Workspace, dataset: Any, output: bool = False) -> Any:
    """An OpenLineage dataset for a registered version, linked to the storage it names."""
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.facet_v2 import dataset_version_dataset, symlinks_dataset

    links = []
    for uri in source_uris(ws, dataset.sources):
        namespace, name = name_of_uri(uri)
        links.append(symlinks_dataset.Identifier(namespace=namespace, name=name, type="LOCATION"))
    facets = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=str(dataset.version)),
        "mlwDataset": mlw_dataset_facet()(dataset.version, dataset.fingerprint, dataset.kind),
        "symlinks": symlinks_dataset.SymlinksDatasetFacet(identifiers=links),
    }
    cls = OutputDataset if output else InputDataset
    return cls(dataset_namespace(ws.name), dataset.name, facets=facets)


def source_uris(ws: Workspace, sources: list[Any]) -> list[str]:
    """The storage URL of each source's fixed folder (a glob's leading segments)."""
    from pathlib import Path

    uris = []
    for source in sources:
        if source.url:
            uris.append(source.pattern)
        elif source.datastore is None:
            uris.append(Path(source.base or "/").as_uri())
        else:
            uri = datastore_uri(ws, source.datastore, source.base)
            if uri is not None:
                uris.append(uri)
    return uris


def datastore_uri(ws: Workspace, datastore: str | None, path: str) -> str | None:
    """The URL of ``path`` on a datastore; ``None`` for a datastore without one (SQL)."""
    from airflow_mlw.datastores import Datastore

    try:
        return str(Datastore(ws, datastore).backend.uri(path))
    except NotImplementedError:
        return None


def input_datasets(ws: Workspace, item: StepInput) -> list[Any]:
    """The OpenLineage datasets one bound step input reads."""
    from airflow_mlw.execution.inputs import DatasetInput, DatastorePath, UpstreamOutput

    if isinstance(item, DatasetInput):
        dataset = item.dataset(ws)
        if dataset.name:
            return [registered_dataset(ws, dataset)]
        return [storage_dataset(uri) for uri in source_uris(ws, dataset.sources)]
    if isinstance(item, UpstreamOutput) and item.record is not None:
        uri = datastore_uri(ws, item.record["datastore"], item.record["path"])
        return [] if uri is None else [storage_dataset(uri, item.record.get("fingerprint"))]
    if isinstance(item, DatastorePath):
        uri = datastore_uri(ws, item.datastore, item.path or "")
        return [] if uri is None else [storage_dataset(uri)]
    return []


def output_datasets(ws: Workspace, record: dict[str, Any]) -> list[Any]:
    """The OpenLineage datasets of one committed output (its path; its registered version)."""
    found = []
    uri = datastore_uri(ws, record["datastore"], record["path"])
    if uri is not None:
        found.append(storage_dataset(uri, record.get("fingerprint"), statistics=record))
    registered = record.get("dataset")
    if registered:
        from airflow_mlw.datasets import Dataset

        version = Dataset.get_by_id(ws, registered["id"])
        found.append(registered_dataset(ws, version, output=True))
    return found


def step_lineage(
    ws: Workspace, inputs: list[StepInput], outputs: dict[str, dict[str, Any]]
) -> OperatorLineage:
    """What a step read and wrote, for the OpenLineage provider's listener."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    lineage: OperatorLineage = OperatorLineage()
    for item in inputs:
        lineage.inputs.extend(input_datasets(ws, item))
    for record in outputs.values():
        lineage.outputs.extend(output_datasets(ws, record))
    return lineage


def registration_lineage(ws: Workspace, dataset: Any) -> OperatorLineage:
    """A registration's lineage: the files it names in, the registered version out."""
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage(
        inputs=[storage_dataset(uri) for uri in source_uris(ws, dataset.sources)],
        outputs=[registered_dataset(ws, dataset, output=True)],
    )


def transfer_lineage(
    ws: Workspace, datastore: str, path: str, local: str, size: int, upload: bool
) -> OperatorLineage:
    """An upload's or download's lineage: the local folder and the datastore path, one each way."""
    from pathlib import Path

    from airflow.providers.openlineage.extractors import OperatorLineage

    remote = datastore_uri(ws, datastore, path)
    folder = Path(local).absolute().as_uri()
    source, target = (folder, remote) if upload else (remote, folder)
    lineage: OperatorLineage = OperatorLineage()
    if source is not None:
        lineage.inputs.append(storage_dataset(source))
    if target is not None:
        lineage.outputs.append(storage_dataset(target, statistics={"bytes": size}))
    return lineage
