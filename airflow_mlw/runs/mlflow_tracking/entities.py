"""How the workspace's runs and experiments look to MLflow: ids, statuses, times, entities, errors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlparse

from mlflow.entities import (
    Experiment,
    LifecycleStage,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
    RunStatus,
    RunTag,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST

from airflow_mlw.runtime import MLFLOW_SCHEME, mlflow_tracking_uri
from airflow_mlw.runtime import mlflow_experiment_id as experiment_id

__all__ = ["experiment_id"]

#: Azure ML v1 keeps an MLflow param as the run property ``azureml.param.<key>``.
PARAM_PREFIX = "azureml.param."
#: MLflow's experiment ``0`` (runs started before any ``set_experiment``).
DEFAULT_EXPERIMENT = "Default"
#: Registry run status -> MLflow's, and back.
MLFLOW_STATUS = {
    "NotStarted": "SCHEDULED",
    "Queued": "SCHEDULED",
    "Running": "RUNNING",
    "Finished": "FINISHED",
    "Failed": "FAILED",
    "Canceled": "KILLED",
}
AZURE_STATUS = {"RUNNING": "Running", "FINISHED": "Finished", "FAILED": "Failed", "KILLED": "Canceled"}
#: name -> (archived, created) of a workspace's experiments.
Experiments = dict[str, tuple[bool, datetime | None]]


def workspace_name(uri: str) -> str:
    """The workspace of ``mlw://<workspace>``."""
    parsed = urlparse(uri)
    if parsed.scheme != MLFLOW_SCHEME or not parsed.netloc:
        raise MlflowException(
            f"not an airflow_mlw tracking URI: {uri!r} (expected {MLFLOW_SCHEME}://<workspace>, "
            "as ws.get_mlflow_tracking_uri() returns it)",
            INVALID_PARAMETER_VALUE,
        )
    return unquote(parsed.netloc)


def artifact_uri(workspace: str, run_id: str) -> str:
    """Where a run's artifacts are: its files (``runs.mlflow_tracking.artifacts``)."""
    return f"{mlflow_tracking_uri(workspace)}/runs/{run_id}"


def experiment_entity(
    store_uri: str, name: str, archived: bool = False, created: datetime | None = None
) -> Experiment:
    """An experiment as MLflow sees it; an archived one is ``deleted``."""
    return Experiment(
        experiment_id(name),
        name,
        f"{store_uri}/experiments/{experiment_id(name)}",
        LifecycleStage.DELETED if archived else LifecycleStage.ACTIVE,
        tags=[],
        creation_time=millis(created),
        last_update_time=millis(created),
    )


def millis(when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:  # SQLite hands back naive UTC
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def status_name(status: Any) -> str:
    """``RunStatus.FINISHED`` (an int) or ``"FINISHED"`` -> ``"FINISHED"``."""
    return RunStatus.to_string(status) if isinstance(status, int) else str(status)


def metric_value(value: Any) -> float | None:
    """A registry metric as MLflow holds it: numbers only (a list or table metric has no MLflow form)."""
    if isinstance(value, bool | int | float):
        return float(value)
    return None


def latest(metrics: dict[str, list[Metric]]) -> list[Metric]:
    """Each metric's last value (``run.data.metrics``)."""
    return [series[-1] for series in metrics.values() if series]


def not_found(what: str) -> MlflowException:
    return MlflowException(what, RESOURCE_DOES_NOT_EXIST)


def param_changed(run_id: str, key: str, old: str, new: str) -> MlflowException:
    return MlflowException(
        f"run {run_id}: param {key!r} is {old!r} and cannot be changed to {new!r} (params are logged once)",
        INVALID_PARAMETER_VALUE,
    )


def run_entity(
    *,
    workspace: str,
    run_id: str,
    experiment: str,
    status: str,
    start_time: int,
    end_time: int | None,
    name: str | None,
    tags: dict[str, str],
    params: dict[str, str],
    metrics: dict[str, list[Metric]],
    model_outputs: list[Any] | None = None,
) -> Run:
    """An MLflow ``Run`` of a workspace run (``experiment``: its MLflow id; ``metrics``: each
    metric's series, the latest value shown)."""
    from mlflow.utils.mlflow_tags import MLFLOW_USER

    info = RunInfo(
        run_id,
        experiment,
        tags.get(MLFLOW_USER, ""),
        status,
        start_time,
        end_time,
        LifecycleStage.ACTIVE,
        artifact_uri(workspace, run_id),
        name,
    )
    data = RunData(
        metrics=latest(metrics),
        params=[Param(k, v) for k, v in params.items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    return Run(info, data, RunInputs([], []), RunOutputs(list(model_outputs or [])))
