"""``DataReference``: a path on a datastore handed to a step, mounted or downloaded (Azure's v1 class)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_mlw.datastores.paths import normalize_path
from airflow_mlw.exceptions import MlwError

if TYPE_CHECKING:
    from airflow_mlw.datastores import Datastore

MODES = ("mount", "download", "upload", "direct")


class DataReference:
    """A path on a datastore, with how a step should see it.

    :param datastore: the datastore
    :param data_reference_name: name of the reference (defaults to the datastore's name)
    :param path_on_datastore: path relative to the datastore root (``None``: the root)
    :param mode: ``mount`` or ``download`` for inputs, ``upload`` for outputs
    :param path_on_compute: where a download lands on the compute target
    """

    def __init__(
        self,
        datastore: Datastore,
        data_reference_name: str | None = None,
        path_on_datastore: str | None = None,
        mode: str = "mount",
        path_on_compute: str | None = None,
        overwrite: bool = False,
    ) -> None:
        if mode not in MODES:
            raise MlwError(f"unknown data reference mode {mode!r}: use one of {', '.join(MODES)}")
        self.datastore = datastore
        self.data_reference_name = data_reference_name
        self.path_on_datastore = normalize_path(path_on_datastore, what="path_on_datastore")
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.overwrite = overwrite

    @property
    def datastore_name(self) -> str:
        return self.datastore.name

    def _with(self, **changes: Any) -> DataReference:
        copy = DataReference(
            self.datastore,
            changes.get("data_reference_name", self.data_reference_name),
            changes.get("path_on_datastore", self.path_on_datastore),
            changes.get("mode", self.mode),
            changes.get("path_on_compute", self.path_on_compute),
            changes.get("overwrite", self.overwrite),
        )
        return copy

    def as_mount(self) -> DataReference:
        return self._with(mode="mount")

    def as_download(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return self._with(mode="download", path_on_compute=path_on_compute, overwrite=overwrite)

    def as_upload(self, path_on_compute: str | None = None, overwrite: bool = False) -> DataReference:
        return self._with(mode="upload", path_on_compute=path_on_compute, overwrite=overwrite)

    def path(self, path: str | None = None, data_reference_name: str | None = None) -> DataReference:
        """A reference to ``path`` below this one."""
        from airflow_mlw.datastores.paths import join_path

        return self._with(
            path_on_datastore=join_path(self.path_on_datastore, normalize_path(path)),
            data_reference_name=data_reference_name,
        )

    def __repr__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.data_reference_name or self.datastore._requested_name}"

    def __str__(self) -> str:
        return repr(self)
