"""Step outputs at run time: their location, the atomic commit, and registration as datasets.

Outputs are committed atomically: the files go to ``<datastore>/mlw/runs/<dag_id>/<run_id>/<step>/
<output>/`` (on a local datastore through a staging folder renamed into place) and a manifest
``<output>.mlw-manifest.json`` beside the folder is written last. An output without its manifest
does not exist: a killed task leaves nothing a consumer would read. Downstream steps get the
location and the content fingerprint through XCom.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from airflow_mlw.datastores.paths import join_path, normalize_path

log = logging.getLogger(__name__)
MANIFEST_SUFFIX = ".mlw-manifest.json"


def output_location(spec: dict[str, Any], dag_id: str, run_id: str, step: str) -> str:
    if spec.get("destination"):
        path = spec["destination"].replace("{run-id}", run_id).replace("{output-name}", spec["name"])
        return normalize_path(path, what="output destination")
    safe_run = run_id.replace(":", "_").replace("+", "_")
    return join_path("mlw/runs", dag_id, safe_run, step, spec["name"])


def commit_output(
    workspace: Any, spec: dict[str, Any], staging: Path, location: str, provenance: dict[str, Any]
) -> dict[str, Any]:
    """Make ``staging`` visible at ``location`` on the output's datastore; returns the XCom value."""
    # Datasets and datastores are imported when used: DAG files import this module when parsed.
    from airflow_mlw.datasets.manifest import Manifest, ManifestEntry
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.datastores.local import LocalBackend

    datastore = Datastore(workspace, spec.get("datastore"))
    backend = datastore.backend
    manifest_path = location + MANIFEST_SUFFIX
    backend.delete(manifest_path)
    if isinstance(backend, LocalBackend):
        final = backend.full_path(location)
        temp = final.with_name(f"{final.name}.staging-{uuid.uuid4().hex[:8]}")
        temp.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(staging, temp, copy_function=shutil.copy2)
        if final.exists():
            shutil.rmtree(final)
        os.replace(temp, final)
    else:
        for stale in list(backend.list(location)):
            backend.delete(stale.path)
        datastore.upload(staging, location, overwrite=True, show_progress=False)
    files = [backend.with_checksum(info) for info in backend.list(location)]
    entries = tuple(
        sorted(
            ManifestEntry(
                info.path[len(location) + 1 :],
                info.size,
                f"{info.checksum_kind}:{info.checksum}",
                0,
                info.path,
            )
            for info in files
        )
    )
    manifest = Manifest(entries)
    record = {
        "datastore": datastore.name,
        "path": location,
        "fingerprint": manifest.fingerprint,
        "files": len(entries),
        "bytes": manifest.total_bytes,
        **provenance,
    }
    with open(staging.parent / f"{spec['name']}{MANIFEST_SUFFIX}", "w") as handle:
        json.dump({**record, "entries": manifest.to_json()}, handle)
    backend.put_file(staging.parent / f"{spec['name']}{MANIFEST_SUFFIX}", manifest_path)
    backend.memo.flush()
    log.info(
        "committed output %s: %d files at %s/%s (fingerprint %s)",
        spec["name"],
        len(entries),
        datastore.name,
        location,
        manifest.fingerprint[:12],
    )
    return record


def output_exists(workspace: Any, record: dict[str, Any], datastores: dict[Any, Any] | None = None) -> bool:
    """The committed output is still complete: manifest present and every file there with its size.

    :param datastores: datastores already looked up, by name (filled in here)
    """
    from airflow_mlw.datastores import Datastore

    known = {} if datastores is None else datastores
    name = record["datastore"]
    backend = (known.get(name) or known.setdefault(name, Datastore(workspace, name))).backend
    manifest_path = record["path"] + MANIFEST_SUFFIX
    if backend.info(manifest_path) is None:
        return False
    present = {info.path: info.size for info in backend.list(record["path"])}
    try:
        with backend.open_read(manifest_path) as handle:
            entries = json.loads(handle.read())["entries"]
    except (OSError, ValueError, KeyError):
        return False
    return all(present.get(entry[4]) == entry[1] for entry in entries)


def register_output(ws: Any, record: dict[str, Any], register: dict[str, Any]) -> dict[str, Any]:
    """Register a committed output as a dataset version (``PipelineData.as_dataset().register``)."""
    from airflow_mlw.datasets import Dataset
    from airflow_mlw.datastores import Datastore

    source = (Datastore(ws, record["datastore"]), record["path"])
    definition: Any = (
        Dataset.Tabular.from_delimited_files(source, **register["tabular"])
        if register.get("tabular")
        else Dataset.File.from_files(source)
    )
    dataset = definition.register(
        ws,
        register["name"],
        tags=register.get("tags"),
        create_new_version=register.get("create_new_version", True),
    )
    return {
        "name": dataset.name,
        "version": dataset.version,
        "fingerprint": dataset.fingerprint,
        "id": dataset.id,
    }
