"""``RegisterModelOperator`` and ``DeployModelOperator``: a training pipeline that ends with
"register the model, deploy it if its metric beats the deployed one's"."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from airflow_mlw.exceptions import MlwError
from airflow_mlw.operators.datastore import workspace_or_configured

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.models.model import InferenceConfig, Model
    from airflow_mlw.models.webservice import DeploymentConfiguration, Webservice
    from airflow_mlw.workspace import Workspace


class RegisterModelOperator(BaseOperator):
    """Register a model version at run time; push ``{name, version, id, fingerprint, run_id, metrics}``.

    The files are ``model_path`` on the worker or, with ``step_task_id``, the pipeline step's: in its
    committed output (``model_path`` relative to it; default: the whole output) or, for a step
    without outputs, a file it kept (``outputs/model.pkl``). A step's model is linked to the
    step's run, so to its metrics and the dataset versions it read.

    :param model_name: model name (templated)
    :param model_path: file or folder (templated)
    :param step_task_id: task id of the pipeline step whose output holds the model
    :param output_name: that step's output (default: its only one)
    :param tags: tags of a new version
    :param properties: properties of a new version (metrics to compare, for instance)
    :param description: description of a new version (templated)
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("model_name", "model_path", "description")

    def __init__(
        self,
        *,
        model_name: str,
        model_path: str | None = None,
        step_task_id: str | None = None,
        output_name: str | None = None,
        tags: dict[str, str] | None = None,
        properties: dict[str, Any] | None = None,
        description: str | None = None,
        workspace: Workspace | None = None,
        **kwargs: Any,
    ) -> None:
        if model_path is None and step_task_id is None:
            raise ValueError("RegisterModelOperator needs model_path, step_task_id, or both")
        super().__init__(**kwargs)
        self.model_name = model_name
        self.model_path = model_path
        self.step_task_id = step_task_id
        self.output_name = output_name
        self.tags = tags
        self.properties = properties
        self.description = description
        self.workspace = workspace

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlw.models.registration import register_model

        ws = workspace_or_configured(self.workspace)
        options: dict[str, Any] = {
            "tags": self.tags,
            "properties": self.properties,
            "description": self.description,
        }
        if self.step_task_id is None:
            model = register_model(ws, str(self.model_path), self.model_name, **options)
        else:
            model = self._register_step_model(ws, context, options)
        self.log.info("model %s (fingerprint %s)", model.id, model.fingerprint[:12])
        return {**model.reference(), "created": model._record.created, "metrics": model.get_metrics()}

    def _register_step_model(self, ws: Workspace, context: Context, options: dict[str, Any]) -> Model:
        from airflow_mlw.execution.inputs import materialize_output, step_result
        from airflow_mlw.models.registration import register_model, register_run_model, run_input_dataset_ids

        record = step_result(context["ti"], str(self.step_task_id)) or {}
        # A reused step's metrics, inputs and kept files are those of the run it reused.
        run_id = record.get("reused_from") or record.get("run_id")
        if not run_id:
            raise MlwError(f"task {self.step_task_id!r} pushed no step run: is it a pipeline step?")
        outputs = record.get("outputs") or {}
        if not outputs and self.output_name is None:
            return register_run_model(ws, run_id, self.model_name, self.model_path, **options)
        if self.output_name is None and len(outputs) != 1:
            raise MlwError(
                f"step {self.step_task_id!r} has outputs {sorted(outputs)}: name one with output_name"
            )
        name = self.output_name or next(iter(outputs))
        if name not in outputs:
            raise MlwError(f"step {self.step_task_id!r} pushed no output {name!r} (it has {sorted(outputs)})")
        folder = materialize_output(ws, outputs[name], Path(ws.settings.home) / "cache" / "outputs")
        return register_model(
            ws,
            folder / (self.model_path or ""),
            self.model_name,
            run_id=run_id,
            dataset_version_ids=run_input_dataset_ids(ws, run_id),
            **options,
        )


class DeployModelOperator(BaseOperator):
    """Deploy a model version as a scoring service, or update the service to it, when it beats the
    deployed version on ``metric`` (no metric: whenever it is another version). Pushes
    ``{service, deployed, reason, scoring_uri, model}``.

    A model's metric is its numeric property of that name, else the metric its run logged.

    :param service_name: the service (templated)
    :param model_name: the model (templated)
    :param inference_config: entry script, source folder and environment of the service
    :param model_version: version to deploy (templated; default: the newest)
    :param metric: metric to compare, e.g. ``"AUC"``
    :param higher_is_better: ``False`` for losses and errors
    :param deployment_config: ``LocalWebservice.deploy_configuration(port=...)`` of a first deployment
    :param deployment_target: an ``InferenceCompute`` target's name (default: the worker's engine)
    :param workspace: the workspace (default: ``Workspace.from_config()`` at run time)
    """

    template_fields: Sequence[str] = ("service_name", "model_name", "model_version")

    def __init__(
        self,
        *,
        service_name: str,
        model_name: str,
        inference_config: InferenceConfig,
        model_version: str | int | None = None,
        metric: str | None = None,
        higher_is_better: bool = True,
        deployment_config: DeploymentConfiguration | None = None,
        deployment_target: str | None = None,
        workspace: Workspace | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.service_name = service_name
        self.model_name = model_name
        self.inference_config = inference_config
        self.model_version = model_version
        self.metric = metric
        self.higher_is_better = higher_is_better
        self.deployment_config = deployment_config
        self.deployment_target = deployment_target
        self.workspace = workspace

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_mlw.models.model import Model
        from airflow_mlw.models.webservice import find_service

        ws = workspace_or_configured(self.workspace)
        version = None if self.model_version in (None, "", "latest") else self.model_version
        candidate = Model(ws, str(self.model_name), version=version)
        service = find_service(ws, str(self.service_name))
        action, reason = self.decide(candidate, service)
        self.log.info("%s %s: %s", action, self.service_name, reason)
        if action == "update":
            assert service is not None
            service.update(models=[candidate], inference_config=self.inference_config)
        elif action == "deploy":
            service = Model.deploy(
                ws,
                str(self.service_name),
                [candidate],
                self.inference_config,
                self.deployment_config,
                self.deployment_target,
                overwrite=service is not None,
            )
            service.wait_for_deployment()
        return {
            "service": self.service_name,
            "deployed": action != "keep",
            "reason": reason,
            "scoring_uri": service.scoring_uri if service is not None else None,
            "model": candidate.reference(),
        }

    def decide(self, candidate: Model, service: Webservice | None) -> tuple[str, str]:
        """(``deploy`` | ``update`` | ``keep``, why)."""
        if service is None:
            return "deploy", f"no service yet: deploying {candidate.id}"
        state = service.state
        if state != "Healthy":
            return "deploy", f"the service is {state}: deploying {candidate.id} again"
        deployed = next((m for m in service.models if m.name == candidate.name), None)
        if deployed is None:
            return (
                "update",
                f"the service serves no version of {candidate.name!r}: updating to {candidate.id}",
            )
        if deployed.version == candidate.version:
            return "keep", f"it already serves {candidate.id}"
        if self.metric is None:
            return "update", f"{candidate.id} replaces {deployed.id}"
        new = self._metric(candidate)
        if new is None:
            raise MlwError(
                f"model {candidate.id} has no metric {self.metric!r} (neither a property nor a metric of its run)"
            )
        old = self._metric(deployed)
        if old is None:
            return "update", f"deployed {deployed.id} has no {self.metric!r}; {candidate.id} has {new}"
        better = new > old if self.higher_is_better else new < old
        comparison = f"{self.metric} {new} vs {old} of deployed {deployed.id}"
        return (
            ("update", f"{candidate.id} wins: {comparison}")
            if better
            else ("keep", f"{candidate.id} does not win: {comparison}")
        )

    def _metric(self, model: Model) -> float | None:
        value = model.get_metrics().get(str(self.metric))
        if isinstance(value, list):
            value = value[-1] if value else None
        try:
            return None if value is None else float(value)
        except (TypeError, ValueError):
            return None
