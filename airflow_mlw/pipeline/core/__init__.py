"""Azure-style façade (``azureml.pipeline.core`` -> ``airflow_mlw.pipeline.core``); re-exports only, lazily (submodules too)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__all__ = [
    "OutputFileDatasetConfig",
    "Pipeline",
    "PipelineEndpoint",
    "PipelineData",
    "PipelineParameter",
    "PipelineRun",
    "PublishedPipeline",
    "Schedule",
    "ScheduleRecurrence",
    "StepRun",
    "StepSequence",
    "TrainingOutput",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "OutputFileDatasetConfig": "airflow_mlw.pipelines.data",
        "Pipeline": "airflow_mlw.pipelines.graph",
        "PipelineData": "airflow_mlw.pipelines.data",
        "PipelineParameter": "airflow_mlw.pipelines.data",
        "StepSequence": "airflow_mlw.pipelines.steps",
        "PipelineRun": "airflow_mlw.runs.pipeline_run",
        "PublishedPipeline": "airflow_mlw.pipelines.publish",
        "PipelineEndpoint": "airflow_mlw.pipelines.publish",
        "StepRun": "airflow_mlw.runs.pipeline_run",
        "Schedule": "airflow_mlw.pipelines.schedules",
        "ScheduleRecurrence": "airflow_mlw.pipelines.schedules",
        "TrainingOutput": "airflow_mlw.pipelines.hyperdrive_step",
    },
    submodules=True,
)
