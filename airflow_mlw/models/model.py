"""``Model`` (register, look up, list, download, deploy) and ``InferenceConfig``, with Azure ML v1's API.

This module imports only the standard library at the top: scoring scripts call
``Model.get_model_path`` inside service containers that have neither Airflow nor SQLAlchemy.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow_mlw.exceptions import ModelNotFoundError, WebserviceException
from airflow_mlw.models.server import MODEL_DIR_ENV

if TYPE_CHECKING:
    from airflow_mlw.datasets.manifest import ManifestEntry
    from airflow_mlw.environments.spec import Environment
    from airflow_mlw.models.versions import ModelVersionRecord
    from airflow_mlw.workspace import Workspace

log = logging.getLogger(__name__)
STORAGE_PREFIX = "mlw/models"


class Model:
    """A registered model version. ``Model(ws, name, version=None)`` looks one up (newest by default).

    :param workspace: the workspace
    :param name: model name
    :param id: ``"name:version"`` (instead of ``name`` and ``version``)
    :param tags: with no name: the newest model having these tags (Azure's list form, or a dict)
    :param properties: with no name: the newest model having these properties
    :param version: version number (default: the newest)
    :param run_id: with no name: the newest model registered from this run
    :raises ModelNotFoundError: nothing matches
    """

    def __init__(
        self,
        workspace: Workspace,
        name: str | None = None,
        id: str | None = None,
        tags: Any = None,
        properties: Any = None,
        version: int | str | None = None,
        run_id: str | None = None,
        **_azure_only: Any,
    ) -> None:
        from airflow_mlw.models.versions import load_version

        if id is not None:
            name, _, number = id.partition(":")
            version = number or None
        if name is not None:
            record = load_version(workspace, name, version)
        else:
            matches = Model.list(workspace, tags=tags, properties=properties, run_id=run_id)
            if not matches:
                raise ModelNotFoundError(
                    f"no model in workspace {workspace.name!r} matches tags={tags!r}, "
                    f"properties={properties!r}, run_id={run_id!r}"
                )
            record = matches[0]._record
        self._init(workspace, record)

    def _init(self, workspace: Workspace, record: ModelVersionRecord) -> None:
        self.workspace = workspace
        self._record = record

    @classmethod
    def _from_record(cls, workspace: Workspace, record: ModelVersionRecord) -> Model:
        model = cls.__new__(cls)
        model._init(workspace, record)
        return model

    # -- what Azure's Model shows -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._record.name

    @property
    def version(self) -> int:
        return self._record.version

    @property
    def id(self) -> str:
        return f"{self.name}:{self.version}"

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._record.tags)

    @property
    def properties(self) -> dict[str, Any]:
        return self._record.properties

    @property
    def description(self) -> str | None:
        return self._record.description

    @property
    def created_time(self) -> datetime:
        return self._record.created_at

    @property
    def fingerprint(self) -> str:
        return self._record.fingerprint

    @property
    def run_id(self) -> str | None:
        return self._record.run_id

    @property
    def run(self) -> Any:
        """The run that registered this version (``None`` for ``Model.register``)."""
        if self.run_id is None:
            return None
        from airflow_mlw.runs import SubmittedRun

        return SubmittedRun(self.workspace, self.run_id)

    @property
    def datasets(self) -> dict[str, list[Any]]:
        """Dataset versions it was trained from (the run's inputs, or ``datasets=`` of ``register``)."""
        from airflow_mlw.datasets import Dataset

        ids = self._record.dataset_version_ids
        return {"training": [Dataset.get_by_id(self.workspace, i) for i in ids]} if ids else {}

    def get_metrics(self) -> dict[str, Any]:
        """The metrics of the run that registered it, overlaid by numeric ``properties``."""
        metrics = dict(self.run.get_metrics()) if self.run_id else {}
        for key, value in self.properties.items():
            try:
                metrics[key] = float(value)
            except (TypeError, ValueError):
                continue
        return metrics

    def reference(self) -> dict[str, Any]:
        """What travels through XCom: enough to find the version again, and its content identity."""
        return {**self._record.reference(), "run_id": self.run_id}

    def __repr__(self) -> str:
        return (
            f"Model(workspace={self.workspace.name!r}, name={self.name!r}, id={self.id!r}, "
            f"version={self.version}, tags={self.tags}, properties={self.properties})"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and (self.workspace, self._record.id) == (
            other.workspace,
            other._record.id,
        )

    def __hash__(self) -> int:
        return hash(self._record.id)

    # -- registration -------------------------------------------------------------------------------

    @staticmethod
    def register(
        workspace: Workspace,
        model_path: str | os.PathLike[str],
        model_name: str,
        tags: dict[str, str] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        datasets: list[Any] | None = None,
        **_azure_only: Any,
    ) -> Model:
        """Copy a local file or folder into the default datastore and register it as a version.

        Content identical to the newest version returns that version; otherwise the next integer
        version is made.

        :param datasets: the dataset versions it was trained from: ``[("training", dataset), ...]``
            or datasets
        """
        in_script = getattr(workspace, "_in_script_run", None)
        if in_script is not None:  # inside a script: the step registers it after the script
            options = {"tags": tags, "properties": properties, "description": description}
            return in_script.register_model(model_name, str(model_path), **options)  # type: ignore[no-any-return]
        from airflow_mlw.models.registration import dataset_ids, register_model

        return register_model(
            workspace,
            model_path,
            model_name,
            tags=tags,
            properties=properties,
            description=description,
            dataset_version_ids=dataset_ids(datasets),
        )

    @staticmethod
    def list(
        workspace: Workspace,
        name: str | None = None,
        tags: Any = None,
        properties: Any = None,
        run_id: str | None = None,
        latest: bool = False,
        **_azure_only: Any,
    ) -> list[Model]:
        """Model versions, by name and newest first.

        :param tags: ``["key", ["key", "value"], ...]`` (Azure's form) or ``{"key": "value"}``
        :param properties: the same form, matched against properties
        :param latest: only the newest version of each name
        """
        from airflow_mlw.models.versions import list_versions

        tag_filter, property_filter = _filter(tags, "tags"), _filter(properties, "properties")
        return [
            Model._from_record(workspace, record)
            for record in list_versions(workspace, name, run_id, latest)
            if _matches(record.tags, tag_filter) and _matches(record.properties, property_filter)
        ]

    def add_tags(self, tags: dict[str, str]) -> None:
        from airflow_mlw.models.registration import check_tags
        from airflow_mlw.models.versions import update_tags

        merged = {**self._record.tags, **check_tags(tags)}
        update_tags(self.workspace, self._record.id, merged)
        self._record.tags = merged

    # -- files --------------------------------------------------------------------------------------

    @property
    def _root(self) -> str:
        """The registered file's or folder's name."""
        return str(self._record.location["root"])

    def _entries(self) -> Sequence[ManifestEntry]:
        from airflow_mlw.datasets.manifest import ManifestEntry
        from airflow_mlw.datasets.versioning import load_manifest

        return [ManifestEntry.from_json(row) for row in load_manifest(self.workspace, self.fingerprint)]

    def local_folder(self) -> Path:
        """A local folder holding the model as registered (its file or folder named as then):
        in place on a local datastore, else a cache keyed by the fingerprint."""
        from airflow_mlw.datastores import Datastore
        from airflow_mlw.datastores.local import LocalBackend

        backend = Datastore(self.workspace, self._record.location["datastore"]).backend
        if isinstance(backend, LocalBackend):
            folder = backend.full_path(self._record.location["path"])
            if not (folder / self._root).exists():
                raise ModelNotFoundError(f"model {self.id}: its files are gone from {folder}")
            return folder
        cache = Path(self.workspace.settings.home) / "cache" / "models" / self.fingerprint
        if not (cache / self._root).exists():
            self._fetch(cache, cache.with_name(f"{self.fingerprint}.partial"))
        return cache

    def _fetch(self, target: Path, staging: Path) -> None:
        from airflow_mlw.datastores import Datastore

        backend = Datastore(self.workspace, self._record.location["datastore"]).backend
        shutil.rmtree(staging, ignore_errors=True)
        for entry in self._entries():
            backend.get_file(entry.file_info(), staging / entry.path)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)

    def download(
        self, target_dir: str | os.PathLike[str] = ".", exist_ok: bool = False, **_azure_only: Any
    ) -> str:
        """Copy the model's file or folder into ``target_dir``; returns its path there."""
        target = Path(target_dir) / self._root
        if target.exists() and not exist_ok:
            raise WebserviceException(
                f"{target} already exists: pass exist_ok=True to overwrite it with model {self.id}"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        source = self.local_folder() / self._root
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copyfile(source, target)
        return str(target)

    @staticmethod
    def get_model_path(
        model_name: str, version: int | str | None = None, _workspace: Workspace | None = None
    ) -> str:
        """The model's file or folder: inside a scoring service, where it is mounted (read-only);
        elsewhere, with ``_workspace``, a local copy."""
        root = os.environ.get(MODEL_DIR_ENV)
        if root:
            return str(_mounted_path(Path(root), model_name, version))
        if _workspace is None:
            raise ModelNotFoundError(
                f"Model.get_model_path({model_name!r}): not inside a scoring service (${MODEL_DIR_ENV} is not "
                "set); pass _workspace= to get a local copy"
            )
        model = Model(_workspace, model_name, version=version)
        return str(model.local_folder() / model._root)

    # -- deployment ---------------------------------------------------------------------------------

    @staticmethod
    def deploy(
        workspace: Workspace,
        name: str,
        models: Sequence[Any],
        inference_config: InferenceConfig | None = None,
        deployment_config: Any = None,
        deployment_target: Any = None,
        overwrite: bool = False,
        show_output: bool = False,
    ) -> Any:
        """Deploy ``models`` as the scoring service ``name``; returns its ``Webservice`` once it is
        ``Healthy`` or ``Failed`` (``wait_for_deployment`` raises with the reason when it failed).

        :param models: ``Model`` objects, or ``"name"`` / ``"name:version"`` strings
        :param deployment_config: ``LocalWebservice.deploy_configuration(port=...)``
        :param deployment_target: an ``InferenceCompute`` target (or its name); ``None``: this machine
        :param overwrite: replace an existing service of that name
        """
        from airflow_mlw.models.webservice import deploy

        return deploy(
            workspace,
            name,
            models,
            inference_config or InferenceConfig(None),
            deployment_config,
            deployment_target,
            overwrite=overwrite,
            show_output=show_output,
        )


class InferenceConfig:
    """What a scoring service runs: ``entry_script`` (with ``init()`` and ``run(raw_data)``) from
    ``source_directory``, in ``environment`` (default: the curated ``MLW-minimal``). No I/O.

    :param entry_script: the scoring script, relative to ``source_directory`` (or a path to it)
    """

    def __init__(
        self,
        entry_script: str | None,
        runtime: str | None = None,
        conda_file: str | None = None,
        source_directory: str | os.PathLike[str] | None = None,
        environment: Environment | None = None,
        description: str | None = None,
        **_azure_only: Any,
    ) -> None:
        self.entry_script = entry_script
        self.runtime = runtime
        self.conda_file = conda_file
        self.source_directory = None if source_directory is None else str(source_directory)
        self.environment = environment
        self.description = description

    def scoring_environment(self) -> Environment:
        """``environment``; else one made from ``conda_file`` (relative to ``source_directory``
        when it is there, as Azure reads it); else the curated ``MLW-minimal``."""
        from airflow_mlw.environments.spec import Environment, curated_environment

        if self.environment is not None:
            return self.environment
        if self.conda_file:
            path = Path(self.conda_file)
            if self.source_directory is not None and not path.is_absolute():
                inside = Path(self.source_directory) / path
                path = inside if inside.is_file() else path
            if not path.is_file():
                raise WebserviceException(f"InferenceConfig conda_file {self.conda_file} does not exist")
            return Environment.from_conda_specification(f"inference-{path.stem}", str(path))
        return curated_environment("MLW-minimal")

    def resolved(self) -> tuple[Path, str]:
        """(source folder, entry script relative to it), checked to exist."""
        if not self.entry_script:
            raise WebserviceException("InferenceConfig needs an entry_script (a file with init() and run())")
        if self.source_directory is None:
            script = Path(self.entry_script).absolute()
            source, relative = script.parent, script.name
        else:
            source, relative = Path(self.source_directory).absolute(), self.entry_script
        if not source.is_dir():
            raise WebserviceException(f"source_directory {source} does not exist")
        if not (source / relative).is_file():
            raise WebserviceException(f"entry_script {relative!r} not found in {source}")
        return source, Path(relative).as_posix()

    def __repr__(self) -> str:
        return (
            f"InferenceConfig(entry_script={self.entry_script!r}, source_directory={self.source_directory!r})"
        )


def _mounted_path(root: Path, name: str, version: int | str | None) -> Path:
    folder = root / name
    versions = sorted((int(p.name) for p in folder.glob("*") if p.name.isdigit()), reverse=True)
    if not versions:
        deployed = sorted(p.name for p in root.glob("*"))
        raise ModelNotFoundError(f"model {name!r} is not deployed with this service (it has {deployed})")
    if version in (None, "latest"):
        chosen = versions[0]
    elif int(version) in versions:
        chosen = int(version)
    else:
        raise ModelNotFoundError(
            f"model {name!r} version {version} is not deployed with this service ({versions})"
        )
    entries = list((folder / str(chosen)).iterdir())
    return entries[0] if len(entries) == 1 else folder / str(chosen)


def _filter(items: Any, what: str) -> list[tuple[str, Any]]:
    """Azure's ``["key", ["key", "value"]]`` (or a dict) as (key, value-or-None) pairs."""
    if items is None:
        return []
    if isinstance(items, dict):
        return list(items.items())
    pairs: list[tuple[str, Any]] = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, str):
            pairs.append((item, None))
        elif isinstance(item, list | tuple) and len(item) == 2:
            pairs.append((str(item[0]), item[1]))
        else:
            raise WebserviceException(f"{what} filter {item!r}: use 'key' or ['key', 'value']")
    return pairs


def _matches(values: dict[str, Any], wanted: list[tuple[str, Any]]) -> bool:
    return all(key in values and (value is None or str(values[key]) == str(value)) for key, value in wanted)
