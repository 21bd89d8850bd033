"""MLflow's artifact repository for ``mlw://<workspace>/runs/<run id>[/<path>]``: a run's artifacts
are its files (``run.get_file_names()``, ``download_file``), at their artifact path.

Inside a submitted run (``$MLW_RUN_CONTEXT`` of that workspace) files go to the run folder's
``artifacts/<run id>/`` and the step keeps them with the run after the script, as it keeps
``outputs/``; elsewhere they are uploaded to the run's files on the default datastore at once.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlparse

from mlflow.entities import FileInfo
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST
from mlflow.store.artifact.artifact_repo import ArtifactRepository

from airflow_mlw.run import CONTEXT_ENV
from airflow_mlw.runtime import MLFLOW_SCHEME


def relative(*parts: str | None) -> str:
    """Artifact path parts joined ("" for the root); ``..`` and absolute paths are refused."""
    joined = PurePosixPath(*[p.strip("/") for p in parts if p and p.strip("/")])
    if any(part == ".." for part in joined.parts):
        raise MlflowException(
            f"artifact path {str(joined)!r} leaves the run's files", INVALID_PARAMETER_VALUE
        )
    text = joined.as_posix()
    return "" if text == "." else text


class MlwArtifactRepository(ArtifactRepository):
    """A run's files as MLflow artifacts.

    :param artifact_uri: ``mlw://<workspace>/runs/<run id>`` (a logged model's: ``.../<run id>/<name>``)
    """

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> None:
        super().__init__(artifact_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)
        parsed = urlparse(artifact_uri)
        parts = [p for p in parsed.path.split("/") if p]
        if parsed.scheme != MLFLOW_SCHEME or not parsed.netloc or len(parts) < 2 or parts[0] != "runs":
            raise MlflowException(
                f"not an airflow_mlw artifact URI: {artifact_uri!r} (expected {MLFLOW_SCHEME}://<workspace>/runs/<run id>)",
                INVALID_PARAMETER_VALUE,
            )
        self.workspace_name = unquote(parsed.netloc)
        self.run_id = parts[1]
        self.root = relative(*parts[2:])

    # -- which side --------------------------------------------------------------------------------

    def _local_root(self) -> Path | None:
        """Inside a submitted run of this workspace: where this run's artifacts are written."""
        path = os.environ.get(CONTEXT_ENV)
        if not path:
            return None
        context = json.loads(Path(path).read_text())
        if context.get("workspace") != self.workspace_name or not context.get("artifacts_dir"):
            return None
        return Path(context["artifacts_dir"]) / self.run_id

    def _run(self) -> Any:
        from airflow_mlw.runs.submitted import SubmittedRun
        from airflow_mlw.workspace import Workspace

        return SubmittedRun(Workspace.for_mlflow(self.workspace_name), self.run_id)

    # -- writing -----------------------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        name = relative(self.root, artifact_path, Path(local_file).name)
        local = self._local_root()
        if local is not None:
            target = local / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(local_file, target)
            return
        self._run().upload_file(name, local_file)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        for path in sorted(p for p in Path(local_dir).rglob("*") if p.is_file()):
            folder = path.parent.relative_to(local_dir).as_posix()
            self.log_artifact(str(path), relative(artifact_path, folder))

    # -- reading -----------------------------------------------------------------------------------

    def _files(self) -> dict[str, int | None]:
        """The run's files below this repository's root: relative path -> size (when known)."""
        local = self._local_root()
        if local is not None:
            base = local / self.root if self.root else local
            if not base.is_dir():
                return {}
            return {p.relative_to(base).as_posix(): p.stat().st_size for p in base.rglob("*") if p.is_file()}
        prefix = f"{self.root}/" if self.root else ""
        return {name[len(prefix) :]: None for name in self._run().get_file_names() if name.startswith(prefix)}

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        below = relative(path)
        prefix = f"{below}/" if below else ""
        entries: dict[str, FileInfo] = {}
        for name, size in self._files().items():
            if not name.startswith(prefix) or name == below:
                continue
            head, _, rest = name[len(prefix) :].partition("/")
            full = f"{prefix}{head}"
            entries[full] = FileInfo(full, True, None) if rest else FileInfo(full, False, size)
        return [entries[k] for k in sorted(entries)]

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        name = relative(self.root, remote_file_path)
        local = self._local_root()
        if local is not None:
            source = local / name
            if not source.is_file():
                raise MlflowException(f"run {self.run_id} has no artifact {name!r}", RESOURCE_DOES_NOT_EXIST)
            shutil.copyfile(source, local_path)
            return
        run = self._run()
        if name not in run.get_file_names():
            raise MlflowException(f"run {self.run_id} has no artifact {name!r}", RESOURCE_DOES_NOT_EXIST)
        run.download_file(name, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        raise MlflowException("a run's files are kept: deleting artifacts is not supported")
