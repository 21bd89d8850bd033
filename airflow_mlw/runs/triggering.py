"""Runs of published pipelines: on the api-server (the plugin's routes), over REST from a client
(``[mlw] api_url`` set), or in-process. Each is an ordinary Airflow DAG run of the pipeline's DAG;
its pipeline run row is made when it is triggered, so its id is known at once.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from airflow_mlw.api_client import ApiClient, ApiError
from airflow_mlw.compute import sync_pools
from airflow_mlw.exceptions import MlwError
from airflow_mlw.execution.records import TERMINAL, dag_run_times, record_pipeline_run, update_run
from airflow_mlw.naming import RUN_ID_CHARACTERS, safe_id
from airflow_mlw.pipelines.data import parameter_value
from airflow_mlw.pipelines.publish import (
    GENERATED_FOLDER,
    PipelineParameterError,
    check_parameters,
    dags_folder,
)
from airflow_mlw.registry.rows import RunRow
from airflow_mlw.runs.inprocess import run_dag
from airflow_mlw.runs.pipeline_run import PipelineRun
from airflow_mlw.runs.submitted import STATUS_BY_STATE


def new_dag_run_id(experiment_name: str) -> str:
    return safe_id(f"mlw__{experiment_name}__{uuid.uuid4().hex[:12]}", RUN_ID_CHARACTERS)


def conf_for(
    published: Any,
    parameter_assignments: dict[str, Any] | None,
    data_path_assignments: dict[str, Any] | None = None,
    dataset_assignments: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The DAG run conf of Azure's request body; keys the pipeline does not declare are ignored.

    :param dataset_assignments: Azure's ``DataSetDefinitionValueAssignments``:
        ``{name: {"SavedDataSetReference": {"Id": ...}}}`` or ``{name: {"Name": ..., "Version": ...}}``;
        an unknown dataset raises ``DatasetNotFoundError`` naming it
    """

    values = dict(parameter_assignments or {})
    for name, path in (data_path_assignments or {}).items():
        if not isinstance(path, dict) or "DataStoreName" not in path:
            raise PipelineParameterError(
                f"DataPathAssignments[{name!r}] must be {{'DataStoreName': ..., 'RelativePath': ...}}"
            )
        values[name] = {"DataStoreName": path["DataStoreName"], "RelativePath": path.get("RelativePath", "")}
    for name, value in (dataset_assignments or {}).items():
        values[name] = saved_dataset(published.workspace, name, value)
    for name, value in list(values.items()):
        values[name] = parameter_value(value, published.workspace)  # a DataPath or dataset from Python
    return check_parameters(published.parameters, values)


def saved_dataset(workspace: Any, name: str, value: Any) -> dict[str, Any]:
    """One ``DataSetDefinitionValueAssignments`` entry -> the ``{"name", "version", "id"}`` it names."""
    from airflow_mlw.datasets.versioning import load_by_id, load_version

    reference = value.get("SavedDataSetReference") if isinstance(value, dict) else None
    if isinstance(reference, dict) and reference.get("Id"):
        record = load_by_id(workspace, str(reference["Id"]))
    elif isinstance(value, dict) and value.get("Name"):
        record = load_version(workspace, str(value["Name"]), value.get("Version") or "latest")
    else:
        raise PipelineParameterError(
            f"DataSetDefinitionValueAssignments[{name!r}] must be {{'SavedDataSetReference': {{'Id': ...}}}} "
            f"or {{'Name': ..., 'Version': ...}}, not {value!r}"
        )
    return {"name": record.name, "version": record.version, "id": record.id}


def trigger_on_server(
    workspace: Any,
    published: Any,
    experiment_name: str,
    parameter_assignments: dict[str, Any] | None = None,
    data_path_assignments: dict[str, Any] | None = None,
    user_name: str | None = None,
    dataset_assignments: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
) -> str:
    """Trigger the published pipeline's DAG in Airflow's metadata DB (api-server side); the run id."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import DagNotFound
    from airflow.utils.types import DagRunTriggeredByType

    if published.status != "Active":
        raise MlwError(f"published pipeline {published.name!r} ({published.id}) is {published.status}")
    conf = conf_for(published, parameter_assignments, data_path_assignments, dataset_assignments)
    dag_run_id = new_dag_run_id(experiment_name)
    run_id = record_pipeline_run(workspace, published.dag_id, dag_run_id, experiment_name, tags, "NotStarted")
    unpause(published.dag_id)
    # Its cluster steps wait in their target's pool: a pool Airflow does not know never schedules.
    sync_pools(workspace)
    try:
        trigger_dag(
            published.dag_id,
            triggered_by=DagRunTriggeredByType.REST_API,
            run_id=dag_run_id,
            conf=conf,
            triggering_user_name=user_name,
        )
    except DagNotFound:
        raise MlwError(
            f"the DAG {published.dag_id!r} of published pipeline {published.name!r} is not parsed (yet) by Airflow"
        ) from None
    return run_id


def unpause(dag_id: str) -> None:
    """An active published pipeline runs when triggered, as Azure's does: its DAG is unpaused
    (Airflow pauses new DAGs with ``[core] dags_are_paused_at_creation``, its default)."""
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session

    with create_session() as session:
        model = session.get(DagModel, dag_id)
        if model is not None and model.is_paused:
            model.is_paused = False


def submit_published(
    published: Any, experiment_name: str, pipeline_parameters: dict[str, Any] | None, tags: Any = None
) -> Any:
    """``PublishedPipeline.submit``: over REST when ``[mlw] api_url`` is set, else in-process."""

    workspace = published.workspace
    if workspace.settings.api_url:
        parameters = {
            k: v.to_json() if hasattr(v, "to_json") else v for k, v in (pipeline_parameters or {}).items()
        }
        return rest_trigger(
            ApiClient.from_settings(workspace.settings), published, experiment_name, parameters, tags
        )
    conf = conf_for(published, pipeline_parameters)
    return run_in_process(workspace, load_dag(published.dag_id), conf, experiment_name, tags)


def submit_over_rest(
    pipeline: Any, experiment_name: str, conf: dict[str, Any], tags: Any, parse_timeout: float = 600
) -> Any:
    """``Experiment.submit`` with ``[mlw] api_url``: publish the pipeline (a DAG file in the shared DAGs
    folder), wait until Airflow has parsed it, then trigger it through the plugin's route."""
    import time

    workspace = pipeline.workspace
    client = ApiClient.from_settings(workspace.settings)
    published = pipeline.publish(name=experiment_name, description="submitted by Experiment.submit over REST")
    deadline = time.monotonic() + parse_timeout
    while True:
        try:
            client.request("GET", f"/api/v2/dags/{published.dag_id}")
            break
        except ApiError as exc:
            if exc.status != 404 or time.monotonic() > deadline:
                raise
            time.sleep(1)
    return rest_trigger(client, published, experiment_name, conf, tags)


def rest_trigger(
    client: Any, published: Any, experiment_name: str, parameters: dict[str, Any], tags: Any
) -> Any:
    """Trigger ``published`` through the plugin's Azure-shaped route; the new pipeline run."""

    workspace = published.workspace
    body = client.request(
        "POST",
        f"/mlw/api/v1.0/workspaces/{workspace.name}/PipelineRuns/PipelineSubmit/{published.id}",
        {"ExperimentName": experiment_name, "ParameterAssignments": parameters, "Tags": tags or {}},
    )
    return PipelineRun(workspace, body["Id"])


def run_in_process(workspace: Any, dag: Any, conf: dict[str, Any], experiment_name: str, tags: Any) -> Any:
    """Run ``dag`` to the end in this process; its pipeline run (status set from the DAG run)."""

    dag_run = run_dag(dag, conf)
    status = STATUS_BY_STATE.get(str(dag_run.state), "Failed")
    run_id = record_pipeline_run(
        workspace, dag.dag_id, dag_run.run_id, experiment_name, tags, status, dag_run
    )
    return PipelineRun(workspace, run_id)


def load_dag(dag_id: str) -> Any:
    """The DAG ``dag_id`` from Airflow's DAGs folder (a generated file is read alone)."""
    from airflow.dag_processing.dagbag import DagBag

    generated = dags_folder() / GENERATED_FOLDER / f"{dag_id}.py"
    folder: Path = generated if generated.exists() else dags_folder()
    bag = DagBag(dag_folder=str(folder))
    dag = bag.dags.get(dag_id)
    if dag is None:
        raise MlwError(f"DAG {dag_id!r} not found in {folder} ({len(bag.import_errors)} import errors)")
    return dag


def pipeline_run_status(workspace: Any, run_id: str) -> str:
    """The run's Azure status; while the registry says it is not over, Airflow's DAG run decides."""
    with workspace.store.session() as session:
        row = session.get(RunRow, run_id)
        if row is None:
            raise MlwError(f"run {run_id!r} not found")
        status, kind, dag_id, dag_run_id = row.status, row.kind, row.dag_id, row.dag_run_id
    if status in TERMINAL or kind != "pipeline" or not dag_id:
        return str(status)
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        found = DagRun.find(dag_id=dag_id, run_id=dag_run_id, session=session)
        state = str(found[0].state) if found else None
        times = dag_run_times(found[0]) if found else {}
    if state in ("success", "failed"):
        status = STATUS_BY_STATE[state]
        update_run(workspace, run_id, status=status, **times)
    elif state in ("queued", "running"):
        status = STATUS_BY_STATE[state]
    return str(status)
