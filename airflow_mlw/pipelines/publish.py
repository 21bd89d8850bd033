"""Published pipelines and pipeline endpoints (Azure's ``PublishedPipeline`` / ``PipelineEndpoint``).

A published pipeline is a registry record (name, version, parameter schema) that names the Airflow
DAG running it. ``pipeline.publish()`` on a pipeline that already has a DAG file (``to_dag``) records
that DAG; otherwise (a pipeline built in a notebook) it writes a DAG file into Airflow's DAGs folder:
``mlw_published/<dag_id>.py`` holding the pickled pipeline, with a snapshot of each step's source
directory beside it, so the scripts travel with the DAG bundle to every worker.

``publish()`` returns once Airflow can run the DAG (``published_dag``: a parse request, then a
bounded wait). Triggering goes through the plugin's REST routes (``[mlw] api_url`` set) or runs
in-process. ``.endpoint`` is on ``[mlw] api_url``, else on Airflow's ``[api] base_url``.
"""

from __future__ import annotations

import builtins
from typing import Any

from sqlalchemy import select

from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines.published_dag import (
    GENERATED_FOLDER,
    DagParseError,
    dag_processor_running,
    dags_folder,
    load_published_dag,
    published_dag_id,
    wait_until_parsed,
    write_dag_file,
)
from airflow_mlw.registry.rows import (
    PipelineEndpointRow,
    PipelineEndpointVersionRow,
    PublishedPipelineRow,
)
from airflow_mlw.registry.store import owned_row
from airflow_mlw.urls import api_server_url

__all__ = [
    "GENERATED_FOLDER",
    "DagParseError",
    "PipelineEndpoint",
    "PipelineParameterError",
    "PipelineVersion",
    "PublishedPipeline",
    "PublishedPipelineNotFound",
    "dags_folder",
    "load_published_dag",
    "published_dag_id",
    "write_dag_file",
]


class PublishedPipelineNotFound(MlwError):
    """No published pipeline or endpoint with that id, name or version."""


class PipelineParameterError(MlwError):
    """A parameter value of the wrong type, or a malformed data path assignment."""


def api_base_url(workspace: Any) -> str:
    """The api-server as clients reach it: ``[mlw] api_url`` when set, else Airflow's ``[api] base_url``."""
    return (workspace.settings.api_url or api_server_url()).rstrip("/")


def route_prefix(workspace: Any) -> str:
    """Azure's route shape on the api-server; no ``Id`` segment comes before the pipeline's."""
    return f"{api_base_url(workspace)}/mlw/api/v1.0/workspaces/{workspace.name}/PipelineRuns"


def parameter_schema(pipeline: Any) -> dict[str, dict[str, Any]]:
    """``{name: {"type": JSON type, "default": value}}`` of the pipeline's parameters."""
    schema = {
        name: {"type": parameter.json_type, "default": parameter.param_default}
        for name, parameter in pipeline.parameters().items()
    }
    schema["regenerate_outputs"] = {"type": "boolean", "default": False}
    return schema


def check_parameters(schema: dict[str, dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """The values the pipeline declares, type-checked; undeclared keys are dropped, as Azure does."""
    checks = {
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "object": lambda v: isinstance(v, dict),
    }
    accepted = {}
    for name, value in values.items():
        if name not in schema:
            continue
        expected = schema[name]["type"]
        kinds = expected if isinstance(expected, list) else [expected]
        if not any(checks.get(kind, lambda v: True)(value) for kind in kinds):
            raise PipelineParameterError(
                f"pipeline parameter {name!r} must be of type {expected}, got {value!r}"
            )
        accepted[name] = value
    return accepted


def make_triggerable(workspace: Any, dag_id: str) -> float:
    """Have Airflow parse a just-written DAG file now and wait (``[mlw] publish_timeout``) until it
    can run the DAG: through the api-server with ``[mlw] api_url``, else directly when a dag-processor
    shares this process's metadata DB; with neither (a notebook alone) runs are in-process and
    nothing waits. The seconds waited."""
    settings = workspace.settings
    if settings.api_url:
        from airflow_mlw.api_client import ApiClient, ApiError

        client = ApiClient.from_settings(settings)
        client.timeout = settings.publish_timeout + 30
        try:
            answer = client.request(
                "POST", f"/mlw/api/published/{dag_id}/parse?timeout={settings.publish_timeout:g}"
            )
        except ApiError as exc:
            raise DagParseError(
                f"published DAG {dag_id!r} is not runnable on {settings.api_url}: {exc}"
            ) from None
        return float(answer.get("Seconds", 0.0))
    if dag_processor_running():
        return wait_until_parsed(dag_id, settings.publish_timeout)
    return 0.0


def _rows(workspace: Any, model: Any, active_only: bool) -> Any:
    """Rows of ``model`` in the workspace, oldest first (only ``Active`` ones with ``active_only``)."""
    query = select(model).where(model.workspace_id == workspace._workspace_id())
    if active_only:
        query = query.where(model.status == "Active")
    with workspace.store.session() as session:
        rows = session.scalars(query.order_by(model.created_at)).all()
        session.expunge_all()
    return rows


class PublishedPipeline:
    """A published pipeline: ``.id``, ``.name``, ``.version``, ``.endpoint``, ``.submit``."""

    def __init__(self, workspace: Any, row: PublishedPipelineRow) -> None:
        self.workspace = workspace
        self.id = row.id
        self.name = row.name
        self.version = row.version
        self.description = row.description
        self.dag_id = row.dag_id
        self.parameters = dict(row.parameters or {})
        self.continue_on_step_failure = row.continue_on_step_failure
        self.status = row.status

    @property
    def endpoint(self) -> str:
        return f"{route_prefix(self.workspace)}/PipelineSubmit/{self.id}"

    @classmethod
    def create(
        cls,
        workspace: Any,
        pipeline: Any,
        name: str,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
        dag_id: str | None = None,
    ) -> PublishedPipeline:
        """Record ``pipeline`` as published; without ``dag_id`` (or a DAG made by ``to_dag``) a DAG
        file is written into Airflow's DAGs folder."""
        from airflow_mlw.registry.rows import new_id

        if not name:
            raise MlwError("a published pipeline needs a name")
        pipeline.validate()
        published_id = new_id()
        dag_id = dag_id or getattr(pipeline, "_dag_id", None)
        if dag_id is None:
            dag_id = published_dag_id(name, published_id)
            path = write_dag_file(pipeline, name, dag_id)
            try:
                make_triggerable(workspace, dag_id)
            except DagParseError:
                path.unlink(missing_ok=True)
                raise
        with workspace.store.session(write=True) as session:
            row = PublishedPipelineRow(
                id=published_id,
                workspace_id=workspace._workspace_id(),
                name=name,
                version=version,
                description=description,
                dag_id=dag_id,
                parameters=parameter_schema(pipeline),
                continue_on_step_failure=bool(continue_on_step_failure),
                status="Active",
            )
            session.add(row)
            session.flush()
            session.expunge(row)
        return cls(workspace, row)

    @classmethod
    def get(
        cls, workspace: Any, id: str, _workflow_provider: Any = None, _service_endpoint: Any = None
    ) -> Any:
        with workspace.store.session() as session:
            row = owned_row(session, PublishedPipelineRow, id, workspace._workspace_id())
            if row is None:
                raise PublishedPipelineNotFound(
                    f"published pipeline {id!r} not found in workspace {workspace.name!r}"
                )
            session.expunge(row)
        return cls(workspace, row)

    @classmethod
    def get_by_name(cls, workspace: Any, name: str, version: str | None = None) -> PublishedPipeline:
        """The newest active pipeline published under ``name`` (and ``version``, when given)."""
        found = [
            p for p in cls.list(workspace) if p.name == name and (version is None or p.version == version)
        ]
        if not found:
            what = f"{name!r}" + (f" version {version!r}" if version is not None else "")
            raise PublishedPipelineNotFound(
                f"no active published pipeline {what} in workspace {workspace.name!r}"
            )
        return found[-1]

    @classmethod
    def list(
        cls, workspace: Any, active_only: bool = True, _workflow_provider: Any = None, **_: Any
    ) -> list[Any]:
        rows = _rows(workspace, PublishedPipelineRow, active_only)
        return [cls(workspace, row) for row in rows]

    get_all = list

    def _set_status(self, status: str) -> None:
        with self.workspace.store.session(write=True) as session:
            row = session.get(PublishedPipelineRow, self.id)
            assert row is not None
            row.status = status
        self.status = status

    def enable(self) -> None:
        self._set_status("Active")

    def disable(self) -> None:
        self._set_status("Disabled")

    def submit(
        self,
        workspace: Any,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        _workflow_provider: Any = None,
        _service_endpoint: Any = None,
        parent_run_id: str | None = None,
        continue_on_step_failure: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        from airflow_mlw.runs.triggering import submit_published

        return submit_published(self, experiment_name, pipeline_parameters, tags=kwargs.get("tags"))

    def to_json(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": self.name,
            "Version": self.version,
            "Description": self.description,
            "DagId": self.dag_id,
            "Status": self.status,
            "Parameters": self.parameters,
            "Endpoint": self.endpoint,
        }

    def __repr__(self) -> str:
        return f"PublishedPipeline(name={self.name!r}, id={self.id!r}, dag_id={self.dag_id!r}, status={self.status!r})"


class PipelineVersion:
    """One version of an endpoint: ``.version`` (a string from "0") and ``.pipeline``."""

    def __init__(self, version: str, pipeline: PublishedPipeline) -> None:
        self.version = version
        self.pipeline = pipeline
        self.pipeline_id = pipeline.id

    def __repr__(self) -> str:
        return f"PipelineVersion(version={self.version!r}, pipeline_id={self.pipeline_id!r})"


class PipelineEndpoint:
    """A stable name over versions of published pipelines; runs go to the default version."""

    def __init__(self, workspace: Any, row: PipelineEndpointRow) -> None:
        self.workspace = workspace
        self.id = row.id
        self.name = row.name
        self.description = row.description
        self.default_version = row.default_version
        self.status = row.status

    @property
    def endpoint(self) -> str:
        return f"{route_prefix(self.workspace)}/PipelineEndpointSubmit/Id/{self.id}"

    @staticmethod
    def _published(name: str, pipeline: Any) -> PublishedPipeline:
        if isinstance(pipeline, PublishedPipeline):
            return pipeline
        from airflow_mlw.pipelines.graph import Pipeline

        if isinstance(pipeline, Pipeline):
            return pipeline.publish(name=name)
        raise MlwError(
            f"a pipeline endpoint takes a Pipeline or PublishedPipeline, not {type(pipeline).__name__}"
        )

    @classmethod
    def publish(cls, workspace: Any, name: str, description: str | None, pipeline: Any) -> PipelineEndpoint:
        """A new endpoint whose version "0" (the default) is ``pipeline`` (published if needed)."""
        if not name:
            raise MlwError("a pipeline endpoint needs a name")
        published = cls._published(name, pipeline)
        with workspace.store.session(write=True) as session:
            taken = session.scalar(
                select(PipelineEndpointRow).where(
                    PipelineEndpointRow.workspace_id == workspace._workspace_id(),
                    PipelineEndpointRow.name == name,
                )
            )
            if taken is not None:
                raise MlwError(
                    f"pipeline endpoint {name!r} already exists in workspace {workspace.name!r}; use add()"
                )
            row = PipelineEndpointRow(
                workspace_id=workspace._workspace_id(),
                name=name,
                description=description,
                default_version="0",
            )
            session.add(row)
            session.flush()
            session.add(
                PipelineEndpointVersionRow(
                    endpoint_id=row.id, version="0", published_pipeline_id=published.id
                )
            )
            session.flush()
            session.expunge(row)
        return cls(workspace, row)

    @classmethod
    def get(
        cls, workspace: Any, id: str | None = None, name: str | None = None, **_: Any
    ) -> PipelineEndpoint:
        if (id is None) == (name is None):
            raise MlwError("PipelineEndpoint.get needs exactly one of id and name")
        query = select(PipelineEndpointRow).where(
            PipelineEndpointRow.workspace_id == workspace._workspace_id()
        )
        query = (
            query.where(PipelineEndpointRow.id == id) if id else query.where(PipelineEndpointRow.name == name)
        )
        with workspace.store.session() as session:
            row = session.scalar(query)
            if row is None:
                raise PublishedPipelineNotFound(
                    f"pipeline endpoint {id or name!r} not found in workspace {workspace.name!r}"
                )
            session.expunge(row)
        return cls(workspace, row)

    @classmethod
    def list(cls, workspace: Any, active_only: bool = True, **_: Any) -> list[PipelineEndpoint]:
        rows = _rows(workspace, PipelineEndpointRow, active_only)
        return [cls(workspace, row) for row in rows]

    get_all = list

    def _update(self, **fields: Any) -> None:
        with self.workspace.store.session(write=True) as session:
            row = session.get(PipelineEndpointRow, self.id)
            assert row is not None
            for key, value in fields.items():
                setattr(row, key, value)
        for key, value in fields.items():
            setattr(self, key, value)

    def list_versions(self) -> builtins.list[PipelineVersion]:
        with self.workspace.store.session() as session:
            rows = session.scalars(
                select(PipelineEndpointVersionRow).where(PipelineEndpointVersionRow.endpoint_id == self.id)
            ).all()
            pairs = [(row.version, row.published_pipeline_id) for row in rows]
        pairs.sort(key=lambda pair: int(pair[0]))
        return [PipelineVersion(v, PublishedPipeline.get(self.workspace, pid)) for v, pid in pairs]

    def list_pipelines(self, active_only: bool = True, **_: Any) -> builtins.list[PublishedPipeline]:
        """The published pipeline of every version (only ``Active`` ones with ``active_only``, as Azure)."""
        pipelines = [version.pipeline for version in self.list_versions()]
        return [p for p in pipelines if p.status == "Active"] if active_only else pipelines

    get_all_pipelines = list_pipelines
    get_all_versions = list_versions

    def add(self, pipeline: Any) -> str:
        """Add ``pipeline`` as the next version (a string); the default stays as it was."""
        published = self._published(self.name, pipeline)
        with self.workspace.store.session(write=True) as session:
            existing = session.scalars(
                select(PipelineEndpointVersionRow.version).where(
                    PipelineEndpointVersionRow.endpoint_id == self.id
                )
            ).all()
            version = str(max((int(v) for v in existing), default=-1) + 1)
            session.add(
                PipelineEndpointVersionRow(
                    endpoint_id=self.id, version=version, published_pipeline_id=published.id
                )
            )
        return version

    def add_default(self, pipeline: Any) -> str:
        version = self.add(pipeline)
        self.set_default_version(version)
        return version

    def set_default(self, pipeline: Any) -> None:
        """Make ``pipeline`` the default, adding it as a version when it is not one yet."""
        published = self._published(self.name, pipeline)
        for version in self.list_versions():
            if version.pipeline_id == published.id:
                self.set_default_version(version.version)
                return
        self.add_default(published)

    def get_default_version(self) -> str:
        return self.default_version

    def set_default_version(self, version: str) -> None:
        version = str(version)
        if version not in {v.version for v in self.list_versions()}:
            raise PublishedPipelineNotFound(f"pipeline endpoint {self.name!r} has no version {version!r}")
        self._update(default_version=version)

    def get_pipeline(self, version: str | None = None) -> PublishedPipeline:
        wanted = self.default_version if version is None else str(version)
        for item in self.list_versions():
            if item.version == wanted:
                return item.pipeline
        raise PublishedPipelineNotFound(f"pipeline endpoint {self.name!r} has no version {wanted!r}")

    def set_name(self, name: str) -> None:
        self._update(name=name)

    def archive(self) -> None:
        self._update(status="Disabled")

    disable = archive

    def reactivate(self, name: str | None = None) -> None:
        self._update(status="Active", **({"name": name} if name else {}))

    enable = reactivate

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: dict[str, Any] | None = None,
        parent_run_id: str | None = None,
        pipeline_version: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if self.status != "Active":
            raise MlwError(f"pipeline endpoint {self.name!r} is {self.status}; reactivate() it first")
        return self.get_pipeline(pipeline_version).submit(
            self.workspace, experiment_name, pipeline_parameters, tags=kwargs.get("tags")
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": self.name,
            "Description": self.description,
            "DefaultVersion": self.default_version,
            "Status": self.status,
            "Endpoint": self.endpoint,
            "Versions": {v.version: v.pipeline_id for v in self.list_versions()},
        }

    def __repr__(self) -> str:
        return (
            f"PipelineEndpoint(name={self.name!r}, id={self.id!r}, default_version={self.default_version!r})"
        )
