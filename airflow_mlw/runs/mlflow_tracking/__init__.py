"""MLflow tracking into the workspace's runs: ``mlflow.set_tracking_uri(ws.get_mlflow_tracking_uri())``
(``mlw://<workspace>``) in a notebook, nothing at all inside a submitted script.

MLflow finds the plugins through entry points: ``mlflow.tracking_store`` (``store``) and
``mlflow.artifact_repository`` (``artifacts``), declared by setup.cfg for the installed package
and by the runtime folder's dist-info inside scripts (``airflow_mlw.runtime``). The store works on
one of two sides, decided per call:

- ``script_side``: inside a submitted run (``$MLW_RUN_CONTEXT`` names a run of this workspace)
  what MLflow logs goes through the run context exactly as ``run.log`` does (JSON lines the step
  operator stores after the script), so scripts need neither Airflow nor the registry, in any
  container. The script's run is *the* MLflow run; nested runs are its child runs.
- ``registry_side``: elsewhere (a notebook, a driver program), MLflow runs are the workspace's
  interactive runs, written to the registry at once, as ``Experiment.start_logging()`` does.

Azure ML v1's mapping (``entities``): metrics are scalar metrics (logged again: a series), params
are run properties ``azureml.param.<key>``, tags are run tags, artifacts are run files.
"""

from __future__ import annotations

import mlflow

# MLflow loads the plugins through their entry points and shows this message when the import fails.
if int(mlflow.__version__.split(".")[0]) < 3:
    raise ImportError(
        f"the mlw:// MLflow plugins of airflow_mlw need MLflow 3 or later (mlflow-skinny>=3); this Python has "
        f"mlflow {mlflow.__version__}"
    )
