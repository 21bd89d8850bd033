"""``FileDataset``: files on datastores, local disk or the web, downloaded or mounted as they are."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from airflow_mlw.datasets.base import AbstractDataset


class FileDataset(AbstractDataset):
    """Files on datastores, local disk or the web."""

    kind = "file"

    def to_path(self) -> list[str]:
        """The files' relative paths, with a leading ``/`` as in Azure."""
        return ["/" + entry.path for entry in self._selected_entries()]

    def download(
        self,
        target_path: str | os.PathLike[str] | None = None,
        overwrite: bool = False,
        validate: bool = True,
    ) -> list[str]:
        """Copy the files into ``target_path`` (default: a new temp folder); returns their local paths."""
        return self._download(target_path, overwrite, validate)

    @contextlib.contextmanager
    def mount(
        self, mount_point: str | os.PathLike[str] | None = None, validate: bool = True
    ) -> Iterator[MountContext]:
        """The files under one read-only folder: links to the files in place (local stores) or to a
        read-through cache keyed by fingerprint (S3, Blob, web)."""
        files = self._local_files(validate)
        folder = Path(mount_point) if mount_point else Path(tempfile.mkdtemp(prefix="mlw-mount-"))
        created = []
        for entry, local in files:
            link = folder / entry.path
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(local)
            created.append(link)
        try:
            yield MountContext(folder, [str(folder / e.path) for e, _ in files])
        finally:
            for link in created:
                with contextlib.suppress(OSError):
                    link.unlink()

    def as_named_input(self, name: str) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self)

    def as_download(self, path_on_compute: str | None = None) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self, mode="download", path_on_compute=path_on_compute)

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(None, self, mode="mount", path_on_compute=path_on_compute)


class MountContext:
    """What ``mount()`` yields: ``mount_point`` and the mounted file paths."""

    def __init__(self, mount_point: Path, files: list[str]) -> None:
        self.mount_point = str(mount_point)
        self.files = files
