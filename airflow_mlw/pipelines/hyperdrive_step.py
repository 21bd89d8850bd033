"""``HyperDriveStep``: a hyperparameter sweep as one pipeline step (Azure's names and arguments).

The step's task drives the sweep (``hyperdrive.controller``); its outputs are the sweep's
results: ``metrics_output`` gets every trial's metrics as JSON (``metrics_data``, Azure's
``{run_id: {metric: [values]}}``), and an output made with ``training_output=TrainingOutput(
"Model", model_file=...)`` gets that file of the best trial. Its reuse key holds the sweep's
settings (space, seed, policy, metric, limits) besides the script, data and environment, so an
unchanged sweep is reused whole. Building the step does no I/O.
"""

from __future__ import annotations

from typing import Any

from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines.data import PipelineData
from airflow_mlw.pipelines.steps import PipelineStep

#: The file a metrics output holds (Azure's name for the metrics output's data).
METRICS_FILE = "metrics_data"


class TrainingOutput:
    """What a HyperDriveStep output receives: ``"Metrics"`` (every trial's metrics) or ``"Model"``
    (``model_file``, a path in the best trial's files such as ``outputs/model.pkl``)."""

    def __init__(self, type: str, model_file: str | None = None) -> None:
        if type not in ("Metrics", "Model"):
            raise MlwError(f"TrainingOutput type must be 'Metrics' or 'Model', not {type!r}")
        if type == "Model" and not model_file:
            raise MlwError("TrainingOutput('Model') needs model_file= (e.g. 'outputs/model.pkl')")
        self.type = type
        self.model_file = model_file

    def __repr__(self) -> str:
        return f"TrainingOutput({self.type!r}, model_file={self.model_file!r})"


def training_output_of(output: Any) -> TrainingOutput | None:
    found = getattr(output, "training_output", None)
    return found if isinstance(found, TrainingOutput) else None


class HyperDriveStep(PipelineStep):
    """A sweep of ``hyperdrive_config`` as one step (Azure's ``HyperDriveStep``).

    :param hyperdrive_config: the sweep (its ``run_config`` or ``estimator`` is the trial)
    :param estimator_entry_script_arguments: more arguments for every trial
    :param outputs: ``PipelineData(..., training_output=TrainingOutput("Model", model_file=...))``
    :param metrics_output: a ``PipelineData`` that gets every trial's metrics
    """

    def __init__(
        self,
        name: str,
        hyperdrive_config: Any,
        estimator_entry_script_arguments: list[Any] | None = None,
        inputs: list[Any] | None = None,
        outputs: list[Any] | None = None,
        metrics_output: Any = None,
        allow_reuse: bool = True,
        version: str | None = None,
    ) -> None:
        run_config = getattr(hyperdrive_config, "run_config", None)
        if run_config is None:
            raise MlwError(f"HyperDriveStep {name!r} needs a HyperDriveConfig")
        self.hyperdrive_config = hyperdrive_config
        self.script_name = str(run_config.script)
        self.metrics_output = metrics_output
        outputs = list(outputs or [])
        if metrics_output is not None:
            if not isinstance(metrics_output, PipelineData):
                raise MlwError(f"HyperDriveStep {name!r}: metrics_output must be a PipelineData")
            outputs.append(metrics_output)
        for output in outputs:
            kind = training_output_of(output)
            if output is not metrics_output and (kind is None or kind.type != "Model"):
                raise MlwError(
                    f"HyperDriveStep {name!r}: output {getattr(output, 'name', output)!r} needs "
                    "training_output=TrainingOutput('Model', model_file=...) (metrics go to metrics_output)"
                )
        super().__init__(
            name,
            inputs=list(inputs or []) + list(run_config.inputs),
            outputs=outputs,
            arguments=list(run_config.arguments) + list(estimator_entry_script_arguments or []),
            compute_target=run_config.compute_target,
            source_directory=run_config.source_directory,
            allow_reuse=allow_reuse,
            version=version,
        )
        self.environment = run_config.run_environment()

    def command(self) -> tuple[str, list[str]]:
        return self.script_name, self.rendered_arguments()

    def operator_arguments(self) -> dict[str, Any]:
        """What the DAG builder gives this step's operator besides a script step's arguments."""
        import json

        models = {
            o.origin.name: training_output_of(o).model_file  # type: ignore[union-attr]
            for o in self.outputs
            if o is not self.metrics_output
        }
        return {
            "operator_class": "airflow_mlw.operators.hyperdrive.HyperDriveStepOperator",
            "hyperdrive_config": self.hyperdrive_config,
            "metrics_output": self.metrics_output.origin.name if self.metrics_output is not None else None,
            "model_outputs": models,
            # In the reuse key: an unchanged sweep (space, seed, policy, limits) is reused whole.
            "step_params": {
                **{k: str(v) for k, v in self.params.items()},
                "hyperdrive": json.dumps(self.hyperdrive_config.sweep_definition(), sort_keys=True),
            },
        }
