"""Runs and experiments (Azure's ``Experiment``, ``ScriptRunConfig``, ``Estimator``, runs).

Re-exports, resolved lazily: DAG files import ``Estimator`` through ``airflow_mlw.train``.
"""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ScriptRunConfig": "airflow_mlw.runs.config",
        "Estimator": "airflow_mlw.runs.config",
        "Experiment": "airflow_mlw.runs.experiment",
        "dag_id_for": "airflow_mlw.runs.experiment",
        "SubmittedRun": "airflow_mlw.runs.submitted",
        "STATUS_BY_STATE": "airflow_mlw.runs.submitted",
        "PipelineRun": "airflow_mlw.runs.pipeline_run",
        "StepRun": "airflow_mlw.runs.pipeline_run",
    },
)
