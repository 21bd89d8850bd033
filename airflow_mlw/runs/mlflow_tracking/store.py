"""``MlwTrackingStore``: MLflow's tracking store for ``mlw://<workspace>`` (the ``mlflow.tracking_store``
entry point). Each call goes to the script side inside a submitted run of the workspace, else to
the registry side; experiments, run creation and logged models are mapped here, once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

from mlflow.entities import (
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, INVALID_STATE, RESOURCE_ALREADY_EXISTS
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking import SEARCH_MAX_RESULTS_DEFAULT
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_MODELS, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_USER
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchLoggedModelsUtils, SearchUtils

from airflow_mlw.runs.mlflow_tracking.entities import (
    artifact_uri,
    experiment_entity,
    experiment_id,
    not_found,
    status_name,
    workspace_name,
)
from airflow_mlw.runs.mlflow_tracking.registry_side import RegistrySide
from airflow_mlw.runs.mlflow_tracking.script_side import ScriptSide, script_side

#: MLflow 3's logged models, kept by the process that logged them (their files are their run's).
_LOGGED_MODELS: dict[str, LoggedModel] = {}
_MODELS_LOCK = threading.Lock()


class MlwTrackingStore(AbstractStore):
    """MLflow tracking store of an airflow_mlw workspace.

    :param store_uri: ``mlw://<workspace>``
    :param artifact_uri: ignored: a run's artifacts are its files (``mlw://<workspace>/runs/<id>``)
    """

    def __init__(self, store_uri: str, artifact_uri: str | None = None) -> None:
        super().__init__()
        self.store_uri = store_uri
        self.workspace_name = workspace_name(store_uri)

    @property
    def side(self) -> ScriptSide | RegistrySide:
        """The script's runs inside a submitted run of this workspace, else the registry."""
        script = script_side(self.workspace_name)
        if script is not None:
            return script
        from airflow_mlw.exceptions import WorkspaceNotFoundError
        from airflow_mlw.workspace import Workspace

        try:
            return RegistrySide(Workspace.for_mlflow(self.workspace_name))
        except WorkspaceNotFoundError as error:
            raise not_found(str(error)) from None

    # -- experiments -------------------------------------------------------------------------------

    def _experiment_name(self, side: ScriptSide | RegistrySide, exp_id: str) -> str:
        for name in side.experiments():
            if experiment_id(name) == str(exp_id):
                return name
        raise not_found(f"no experiment with id {exp_id!r} in workspace {self.workspace_name!r}")

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        wanted = {
            ViewType.ACTIVE_ONLY: (LifecycleStage.ACTIVE,),
            ViewType.DELETED_ONLY: (LifecycleStage.DELETED,),
        }.get(view_type, (LifecycleStage.ACTIVE, LifecycleStage.DELETED))
        experiments = [
            experiment_entity(self.store_uri, name, archived, created)
            for name, (archived, created) in self.side.experiments().items()
        ]
        experiments = [e for e in experiments if e.lifecycle_stage in wanted]
        filtered = SearchExperimentsUtils.filter(experiments, filter_string)
        ordered = SearchExperimentsUtils.sort(
            filtered, order_by or ["creation_time DESC", "experiment_id ASC"]
        )
        page, token = SearchUtils.paginate(ordered, page_token, max_results)
        return PagedList(page, token)

    def create_experiment(self, name: str, artifact_location: str | None = None, tags: Any = None) -> str:
        if not name:
            raise MlflowException("an experiment needs a name", INVALID_PARAMETER_VALUE)
        side = self.side
        if name in side.experiments():
            raise MlflowException(
                f"experiment {name!r} already exists in workspace {self.workspace_name!r}",
                RESOURCE_ALREADY_EXISTS,
            )
        side.create_experiment(name)
        return experiment_id(name)

    def get_experiment(self, experiment_id: str) -> Experiment:
        side = self.side
        name = self._experiment_name(side, experiment_id)
        return experiment_entity(self.store_uri, name, *side.experiments()[name])

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        found = self.side.experiments().get(experiment_name)
        return None if found is None else experiment_entity(self.store_uri, experiment_name, *found)

    def delete_experiment(self, experiment_id: str) -> None:
        """Archives the experiment (``Experiment.archive()``); its runs stay."""
        side = self.side
        side.archive(self._experiment_name(side, experiment_id), True)

    def restore_experiment(self, experiment_id: str) -> None:
        side = self.side
        side.archive(self._experiment_name(side, experiment_id), False)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        raise MlflowException("airflow_mlw experiments keep their name: rename_experiment is not supported")

    def set_experiment_tag(self, experiment_id: str, tag: Any) -> None:
        raise MlflowException("airflow_mlw experiments have no tags: tag their runs (mlflow.set_tag)")

    # -- runs --------------------------------------------------------------------------------------

    def create_run(
        self, experiment_id: str, user_id: str, start_time: int, tags: list[RunTag], run_name: str | None
    ) -> Run:
        given = {tag.key: str(tag.value) for tag in tags or []}
        if user_id and MLFLOW_USER not in given:
            given[MLFLOW_USER] = user_id
        side = self.side
        name = self._experiment_name(side, experiment_id)
        run_id = side.create_run(
            name, given.get(MLFLOW_PARENT_RUN_ID), run_name or given.get(MLFLOW_RUN_NAME), given
        )
        return side.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        return self.side.get_run(run_id)

    def update_run_info(
        self, run_id: str, run_status: Any, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        side = self.side
        side.update_run(run_id, status_name(run_status), end_time, run_name)
        return side.get_run(run_id).info

    def delete_run(self, run_id: str) -> None:
        raise MlflowException("runs of an airflow_mlw workspace are kept: delete_run is not supported")

    def restore_run(self, run_id: str) -> None:
        raise MlflowException(
            "runs of an airflow_mlw workspace are never deleted: restore_run is not supported"
        )

    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> tuple[list[Run], str | None]:
        runs: list[Run] = []
        if run_view_type != ViewType.DELETED_ONLY:  # no run is ever deleted
            side = self.side
            runs = side.runs_of({self._experiment_name(side, exp_id) for exp_id in experiment_ids})
        ordered = SearchUtils.sort(SearchUtils.filter(runs, filter_string), order_by)
        page, token = SearchUtils.paginate(ordered, page_token, max_results)
        return page, token

    # -- logging -----------------------------------------------------------------------------------

    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        self.side.log_batch(run_id, list(metrics or []), list(params or []), list(tags or []))

    def delete_tag(self, run_id: str, key: str) -> None:
        self.side.delete_tag(run_id, key)

    def get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList:
        history = self.side.metric_history(run_id, metric_key)
        page, token = SearchUtils.paginate(history, page_token, max_results or len(history) or 1)
        return PagedList(page, token)

    def log_inputs(self, run_id: str, datasets: Any = None, models: Any = None) -> None:
        """Dataset inputs MLflow describes (``mlflow.log_input``, autolog's) are not kept: a run's
        inputs are the registered datasets its step read. The run must exist."""
        self.side.get_run(run_id)

    def log_outputs(self, run_id: str, models: list[Any]) -> None:
        self.side.log_outputs(run_id, list(models))

    def link_traces_to_run(self, trace_ids: list[str], run_id: str) -> None:
        raise MlflowException("MLflow tracing is not supported by airflow_mlw workspaces")

    # -- logged models (MLflow 3): kept in this process, their files with their run -----------------

    def record_logged_model(self, run_id: str, mlflow_model: Any) -> None:
        """The run's ``mlflow.log-model.history`` tag, as MLflow's own stores keep it."""
        current = self.get_run(run_id).data.tags.get(MLFLOW_LOGGED_MODELS)
        history = [*(json.loads(current) if current else []), mlflow_model.get_tags_dict()]
        self.log_batch(run_id, [], [], [RunTag(MLFLOW_LOGGED_MODELS, json.dumps(history))])

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: list[LoggedModelTag] | None = None,
        params: list[Any] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        if source_run_id is None:
            raise MlflowException(
                "log the model inside a run (mlflow.start_run()): an airflow_mlw model's files are its run's files",
                INVALID_STATE,
            )
        self.get_run(source_run_id)
        name = name or "model"
        now = int(time.time() * 1000)
        model = LoggedModel(
            experiment_id=str(experiment_id),
            model_id=f"m-{uuid.uuid4().hex}",
            name=name,
            artifact_location=f"{artifact_uri(self.workspace_name, source_run_id)}/{name}",
            creation_timestamp=now,
            last_updated_timestamp=now,
            model_type=model_type,
            source_run_id=source_run_id,
            status=LoggedModelStatus.READY,
            tags={t.key: t.value for t in tags or []},
            params={p.key: p.value for p in params or []},
        )
        with _MODELS_LOCK:
            _LOGGED_MODELS[model.model_id] = model
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        model = _LOGGED_MODELS.get(model_id)
        if model is None:
            raise not_found(
                f"logged model {model_id!r} is not known to this process (a model's files are its run's: "
                "load it as runs:/<run id>/<name>)"
            )
        return model

    def finalize_logged_model(self, model_id: str, status: Any) -> LoggedModel:
        model = self.get_logged_model(model_id)
        with _MODELS_LOCK:
            model._status = status
            model._last_updated_timestamp = int(time.time() * 1000)
        return model

    def set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        model = self.get_logged_model(model_id)
        with _MODELS_LOCK:
            model._tags = {**model.tags, **{t.key: t.value for t in tags}}

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        model = self.get_logged_model(model_id)
        with _MODELS_LOCK:
            model._tags = {k: v for k, v in model.tags.items() if k != key}

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: Any = None,
        max_results: int | None = None,
        order_by: Any = None,
        page_token: str | None = None,
    ) -> PagedList:
        wanted = {str(e) for e in experiment_ids}
        models = [m for m in list(_LOGGED_MODELS.values()) if m.experiment_id in wanted]
        filtered = SearchLoggedModelsUtils.filter_logged_models(models, filter_string, datasets)
        ordered = SearchLoggedModelsUtils.sort(filtered, order_by)
        page, token = SearchLoggedModelsUtils.paginate(ordered, page_token, max_results or 100)
        return PagedList(page, token)
