"""Azure-style façade (``azureml.pipeline.steps`` -> ``airflow_mlw.pipeline.steps``); re-exports only,
lazily: a DAG file pays for the modules of the steps it uses."""

from airflow_mlw._lazy import lazy_exports

__all__ = [
    "CommandStep",
    "EstimatorStep",
    "HyperDriveStep",
    "HyperDriveStepRun",
    "ParallelRunConfig",
    "ParallelRunStep",
    "PythonScriptStep",
]


__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CommandStep": "airflow_mlw.pipelines.steps",
        "EstimatorStep": "airflow_mlw.pipelines.steps",
        "HyperDriveStep": "airflow_mlw.pipelines.hyperdrive_step",
        "HyperDriveStepRun": "airflow_mlw.hyperdrive.run",
        "ParallelRunConfig": "airflow_mlw.pipelines.parallel",
        "ParallelRunStep": "airflow_mlw.pipelines.parallel",
        "PythonScriptStep": "airflow_mlw.pipelines.steps",
    },
)
