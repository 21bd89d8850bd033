"""REST routes of published pipelines and endpoints, in the plugin's own shape and in Azure's.

| route | what |
|---|---|
| ``GET /api/pipelines``, ``GET /api/endpoints`` | what is published |
| ``POST /api/pipelines/{name}/runs[?version=V]`` | run the newest active pipeline published as ``name`` |
| ``POST /api/endpoints/{name}/runs[?version=N]`` | run an endpoint's default (or ``N``th) version |
| ``GET /api/runs/{id}`` | a run's status and its steps' outputs |
| ``POST /api/v1.0/workspaces/{ws}/PipelineRuns/PipelineSubmit/{id}`` | Azure's shapes, for code that |
| ``POST …/PipelineRuns/PipelineEndpointSubmit/Id/{id}`` | builds URLs from ``.endpoint`` |
| ``POST …/PipelineRuns/PipelineEndpointSubmit/Name?name=N&pipelineVersion=V`` | |
| ``POST /api/published/{dag_id}/parse[?timeout=S]`` | parse a published DAG file now; answers once runnable |

POST bodies are Azure's: ``ExperimentName``, ``ParameterAssignments``, ``DataPathAssignments``
(plus ``Tags``); the answer has ``Id``, the pipeline run id. Triggering also needs Airflow's
permission to create runs of the pipeline's DAG. A published pipeline whose generated DAG file Airflow
has not parsed yet is parsed on request first (bounded by ``[mlw] publish_timeout``), so a route never
refuses a pipeline ``publish()`` reported as published.
"""

from __future__ import annotations

from typing import Annotated, Any

from airflow.api_fastapi.core_api.security import GetUserDep
from fastapi import APIRouter, Body, HTTPException

from airflow_mlw.exceptions import DatasetNotFoundError, MlwError, WorkspaceNotFoundError
from airflow_mlw.pipelines.publish import (
    PipelineEndpoint,
    PipelineParameterError,
    PublishedPipeline,
    PublishedPipelineNotFound,
)
from airflow_mlw.pipelines.published_dag import (
    DagParseError,
    generated_dag_file,
    is_triggerable,
    wait_until_parsed,
)
from airflow_mlw.runs.pipeline_run import PipelineRun
from airflow_mlw.runs.triggering import pipeline_run_status, trigger_on_server
from airflow_mlw.workspace import Workspace

#: Azure's request body: ``ExperimentName``, ``ParameterAssignments``, ``DataPathAssignments``,
#: ``DataSetDefinitionValueAssignments``, ``Tags``.
RunBody = Annotated[dict[str, Any] | None, Body()]


def _workspace(name: str | None = None) -> Any:

    if name is None:
        return Workspace.from_config()
    return Workspace(workspace_name=name)


def _fail(exc: MlwError) -> HTTPException:

    if isinstance(exc, PublishedPipelineNotFound | WorkspaceNotFoundError | DatasetNotFoundError):
        return HTTPException(404, str(exc))
    if isinstance(exc, PipelineParameterError):
        return HTTPException(400, str(exc))
    if isinstance(exc, DagParseError):
        return HTTPException(422, str(exc))
    return HTTPException(409, str(exc))


def may_trigger(dag_id: str, user: Any) -> bool:
    """Whether ``user`` may create runs of ``dag_id``: Airflow's DAG-run permission, which every
    submit route (and the pipelines page's Submit action) requires."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    return bool(
        get_auth_manager().is_authorized_dag(
            method="POST", access_entity=DagAccessEntity.RUN, details=DagDetails(id=dag_id), user=user
        )
    )


def _trigger(workspace: Any, published: Any, body: dict[str, Any] | None, user: Any) -> dict[str, Any]:
    if not may_trigger(published.dag_id, user):
        raise HTTPException(403, f"not allowed to trigger DAG {published.dag_id!r}")
    if not is_triggerable(published.dag_id) and generated_dag_file(published.dag_id).is_file():
        wait_until_parsed(published.dag_id, workspace.settings.publish_timeout)
    body = body or {}
    experiment = body.get("ExperimentName") or published.name
    run_id = trigger_on_server(
        workspace,
        published,
        experiment,
        body.get("ParameterAssignments"),
        body.get("DataPathAssignments"),
        user_name=user.get_name(),
        tags=body.get("Tags"),
        dataset_assignments=body.get("DataSetDefinitionValueAssignments"),
    )
    return {"Id": run_id, "ExperimentName": experiment, "PipelineId": published.id, "DagId": published.dag_id}


def create_router() -> APIRouter:
    router = APIRouter()
    azure = "/api/v1.0/workspaces/{workspace_name}/PipelineRuns"

    @router.get("/api/pipelines")
    def list_pipelines() -> list[dict[str, Any]]:

        return [p.to_json() for p in PublishedPipeline.list(_workspace())]

    @router.get("/api/endpoints")
    def list_endpoints() -> list[dict[str, Any]]:

        return [e.to_json() for e in PipelineEndpoint.list(_workspace())]

    @router.post("/api/pipelines/{name}/runs")
    def run_pipeline(
        name: str,
        user: GetUserDep,
        version: str | None = None,
        body: RunBody = None,
    ) -> dict[str, Any]:

        try:
            ws = _workspace()
            return _trigger(ws, PublishedPipeline.get_by_name(ws, name, version), body, user)
        except MlwError as exc:
            raise _fail(exc) from None

    @router.post("/api/endpoints/{name}/runs")
    def run_endpoint(
        name: str,
        user: GetUserDep,
        version: str | None = None,
        body: RunBody = None,
    ) -> dict[str, Any]:
        return _run_endpoint(None, None, name, version, body, user)

    @router.post("/api/published/{dag_id}/parse")
    def parse_published(dag_id: str, user: GetUserDep, timeout: float | None = None) -> dict[str, Any]:
        """Have the dag-processor parse a published pipeline's DAG file now; answers once Airflow
        can run the DAG (422 with Airflow's import error when it cannot)."""
        from airflow.api_fastapi.app import get_auth_manager
        from airflow.api_fastapi.auth.managers.models.resource_details import DagDetails

        if not get_auth_manager().is_authorized_dag(method="PUT", details=DagDetails(id=dag_id), user=user):
            raise HTTPException(403, f"not allowed to parse DAG {dag_id!r}")
        try:
            seconds = wait_until_parsed(dag_id, timeout or _workspace().settings.publish_timeout)
        except MlwError as exc:
            raise _fail(exc) from None
        return {"DagId": dag_id, "Seconds": round(seconds, 3)}

    @router.get("/api/runs/{run_id}")
    def get_run(run_id: str) -> dict[str, Any]:

        try:
            ws = _workspace()
            status = pipeline_run_status(ws, run_id)
            run = PipelineRun(ws, run_id)
            details = run.get_details()
            steps = [
                {
                    "Name": step.name,
                    "Status": step.get_status(),
                    "IsReused": step.is_reused,
                    "ReusedFrom": step.reused_from,
                    "Outputs": {
                        name: {
                            "DataStoreName": ref.datastore_name,
                            "RelativePath": ref.path_on_datastore,
                            "Fingerprint": ref.fingerprint,
                        }
                        for name, ref in step.get_outputs().items()
                    },
                }
                for step in run.get_steps()
            ]
        except MlwError as exc:
            raise HTTPException(404, str(exc)) from None
        return {
            "Id": run_id,
            "Status": status,
            "ExperimentName": details["experiment"],
            "DagId": details["dag_id"],
            "DagRunId": run._row().dag_run_id,
            "Steps": steps,
        }

    @router.post(azure + "/PipelineSubmit/{pipeline_id}")
    def azure_pipeline_submit(
        workspace_name: str,
        pipeline_id: str,
        user: GetUserDep,
        body: RunBody = None,
    ) -> dict[str, Any]:

        try:
            ws = _workspace(workspace_name)
            return _trigger(ws, PublishedPipeline.get(ws, pipeline_id), body, user)
        except MlwError as exc:
            raise _fail(exc) from None

    @router.post(azure + "/PipelineEndpointSubmit/Id/{endpoint_id}")
    def azure_endpoint_submit_by_id(
        workspace_name: str,
        endpoint_id: str,
        user: GetUserDep,
        pipelineVersion: str | None = None,  # noqa: N803 - Azure's query name
        body: RunBody = None,
    ) -> dict[str, Any]:
        return _run_endpoint(workspace_name, endpoint_id, None, pipelineVersion, body, user)

    @router.post(azure + "/PipelineEndpointSubmit/Name")
    def azure_endpoint_submit_by_name(
        workspace_name: str,
        name: str,
        user: GetUserDep,
        pipelineVersion: str | None = None,  # noqa: N803 - Azure's query name
        body: RunBody = None,
    ) -> dict[str, Any]:
        return _run_endpoint(workspace_name, None, name, pipelineVersion, body, user)

    return router


def _run_endpoint(
    workspace_name: str | None,
    endpoint_id: str | None,
    name: str | None,
    version: str | None,
    body: dict[str, Any] | None,
    user: Any,
) -> dict[str, Any]:

    try:
        ws = _workspace(workspace_name)
        endpoint = PipelineEndpoint.get(ws, id=endpoint_id, name=name)
        if endpoint.status != "Active":
            raise MlwError(f"pipeline endpoint {endpoint.name!r} is {endpoint.status}")
        answer = _trigger(ws, endpoint.get_pipeline(version), body, user)
    except MlwError as exc:
        raise _fail(exc) from None
    return {**answer, "PipelineEndpointId": endpoint.id}
