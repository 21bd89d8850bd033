"""Registering model versions: from local files (``Model.register``), from the files a run kept
(``run.register_model``, the ``RegisterModelOperator``) and from ``run.register_model`` requests
inside scripts. Versions are content-fingerprinted; the files go to content-addressed storage.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.datasets.manifest import Manifest, ManifestEntry, build_manifest
from airflow_mlw.datasets.sources import Source
from airflow_mlw.datasets.versioning import current_task
from airflow_mlw.datastores.paths import join_path, normalize_path
from airflow_mlw.exceptions import MlwError, WebserviceException
from airflow_mlw.models.model import STORAGE_PREFIX, Model
from airflow_mlw.models.versions import check_name, register_version
from airflow_mlw.registry.rows import RunRow

if TYPE_CHECKING:
    from airflow_mlw.workspace import Workspace


def register_model(
    workspace: Workspace,
    model_path: str | os.PathLike[str],
    model_name: str,
    *,
    tags: dict[str, str] | None = None,
    properties: dict[str, Any] | None = None,
    description: str | None = None,
    run_id: str | None = None,
    dataset_version_ids: list[str] | None = None,
) -> Model:
    """``Model.register`` and ``run.register_model``: fingerprint, copy (content-addressed), record."""
    check_name(model_name)
    path = Path(model_path).expanduser().absolute()
    if not path.exists():
        raise WebserviceException(f"model_path {model_path} does not exist")
    if path.is_dir() and not any(p.is_file() for p in path.rglob("*")):
        raise WebserviceException(f"model_path {model_path} is a folder without files")
    found, _ = build_manifest(workspace, [Source(None, str(path))])
    # Paths start with the file's or folder's own name, so renaming it makes another version.
    named = [(f"{path.name}/{e.path}" if path.is_dir() else path.name, e) for e in found.entries]
    fingerprint = Manifest(
        tuple(sorted(ManifestEntry(n, e.size, e.content_hash, 0, n) for n, e in named))
    ).fingerprint
    prefix = join_path(STORAGE_PREFIX, model_name, fingerprint)
    datastore = workspace.get_default_datastore()
    datastore.upload_files(
        ["/" + e.location for e in found.entries],
        relative_root=path.parent,
        target_path=prefix,
        overwrite=False,
        show_progress=False,
    )
    manifest = Manifest(
        tuple(sorted(ManifestEntry(n, e.size, e.content_hash, 0, join_path(prefix, n)) for n, e in named))
    )
    location = {
        "datastore": datastore.name,
        "path": prefix,
        "root": path.name,
        "properties": check_properties(properties),
    }
    record = register_version(
        workspace,
        model_name,
        manifest,
        location,
        description=description,
        tags=check_tags(tags),
        run_id=run_id,
        dataset_version_ids=list(dataset_version_ids or []),
        task=current_task(),
    )
    return Model._from_record(workspace, record)


def run_properties(workspace: Workspace, run_id: str) -> dict[str, Any]:
    with workspace.store.session() as session:
        row = session.get(RunRow, run_id)
        if row is None:
            raise MlwError(f"run {run_id!r} not found")
        return dict(row.properties or {})


def run_input_dataset_ids(workspace: Workspace, run_id: str) -> list[str]:
    """Ids of the registered dataset versions a run read."""
    inputs = run_properties(workspace, run_id).get("inputs", {})
    # One dataset version read under two names (mounted and downloaded) is one id.
    return list(dict.fromkeys(str(record["id"]) for record in inputs.values() if record.get("id")))


def register_run_model(
    workspace: Workspace,
    run_id: str,
    model_name: str,
    model_path: str | None = None,
    *,
    tags: dict[str, str] | None = None,
    properties: dict[str, Any] | None = None,
    description: str | None = None,
    datasets: list[Any] | None = None,
) -> Model:
    """Register a file or folder the run kept (``outputs/...``) as a model version linked to the
    run, its metrics and the dataset versions it read (Azure's ``run.register_model``)."""
    path = normalize_path(model_path or "outputs", what="model_path")
    files = list(run_properties(workspace, run_id).get("files", []))
    kept = [name for name in files if name == path or name.startswith(path + "/")]
    if not kept:
        raise MlwError(f"run {run_id} kept no file {path!r}; it has {files}")
    datastore = workspace.get_default_datastore()
    linked = run_input_dataset_ids(workspace, run_id) + dataset_ids(datasets)
    with tempfile.TemporaryDirectory(prefix="mlw-run-model-") as scratch:
        for name in kept:
            info = datastore.backend.info(join_path(f"mlw/run-files/{run_id}", name))
            if info is None:
                raise MlwError(f"run {run_id}: file {name!r} is gone from datastore {datastore.name!r}")
            datastore.backend.get_file(info, Path(scratch) / name)
        return register_model(
            workspace,
            Path(scratch) / path,
            model_name,
            tags=tags,
            properties=properties,
            description=description,
            run_id=run_id,
            dataset_version_ids=linked,
        )


def check_tags(tags: dict[str, Any] | None) -> dict[str, str]:
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
    ):
        raise WebserviceException(f"tags must be a dict of strings to strings, not {tags!r}")
    return dict(tags)


def check_properties(properties: dict[str, Any] | None) -> dict[str, Any]:
    if properties is None:
        return {}
    if not isinstance(properties, dict) or not all(isinstance(k, str) for k in properties):
        raise WebserviceException(f"properties must be a dict with string keys, not {properties!r}")
    return {
        key: value if isinstance(value, int | float | bool) else str(value)
        for key, value in properties.items()
    }


def dataset_ids(datasets: list[Any] | None) -> list[str]:
    ids = []
    for item in datasets or []:
        dataset = item[1] if isinstance(item, tuple) else item
        if getattr(dataset, "id", None) is None:
            raise WebserviceException(
                f"dataset {dataset!r} is not registered: register it before linking it to a model"
            )
        ids.append(str(dataset.id))
    return ids
