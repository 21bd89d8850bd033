"""DP-100 seed: the two pipeline examples, ported by replacing ``azureml`` with ``airflow_mlw``.

``python dags_examples/seed_pipelines.py`` runs both on the embedded default (local datastore,
SQLite registry, local compute) and prints outputs, dataset versions and metrics.
"""

from __future__ import annotations

from pathlib import Path

from airflow_mlw.core import Dataset, Environment, Experiment, Workspace
from airflow_mlw.core.compute import AmlCompute, ComputeTarget, ComputeTargetException
from airflow_mlw.core.runconfig import RunConfiguration
from airflow_mlw.pipeline.core import Pipeline, PipelineData
from airflow_mlw.pipeline.steps import PythonScriptStep

HERE = Path(__file__).resolve().parent


def setup(ws: Workspace) -> None:
    """The raw data as a registered tabular dataset, and the 'aml-cluster' compute target."""
    data_store = ws.get_default_datastore()
    data_store.upload_files(
        files=[str(HERE / "experiment_folder" / "diabetes.csv")],
        target_path="diabetes-data/",
        overwrite=True,
        show_progress=False,
    )
    Dataset.Tabular.from_delimited_files(path=(data_store, "diabetes-data/*.csv")).register(
        workspace=ws, name="raw_dataset", create_new_version=True
    )
    try:
        ComputeTarget(workspace=ws, name="aml-cluster")
    except ComputeTargetException:
        ComputeTarget.create(
            ws, "aml-cluster", AmlCompute.provisioning_configuration(vm_size="STANDARD_DS11_V2", max_nodes=2)
        )


def first_pipeline(ws: Workspace, environment: Environment | None = None) -> Pipeline:
    # Get a dataset for the initial data
    raw_ds = Dataset.get_by_name(ws, "raw_dataset")

    # Define a PipelineData object to pass data between steps
    data_store = ws.get_default_datastore()
    prepped_data = PipelineData("prepped", datastore=data_store)

    run_config = RunConfiguration()
    run_config.environment = environment or Environment("default")

    # Step to run a Python script
    step1 = PythonScriptStep(
        name="prepare data",
        source_directory=str(HERE / "scripts"),
        script_name="data_prep.py",
        compute_target="aml-cluster",
        runconfig=run_config,
        # Script arguments include PipelineData
        arguments=["--raw-ds", raw_ds.as_named_input("raw_data"), "--out_folder", prepped_data],
        # Specify PipelineData as output
        outputs=[prepped_data],
    )

    # Step to run an estimator
    step2 = PythonScriptStep(
        name="train model",
        source_directory=str(HERE / "scripts"),
        script_name="train_model.py",
        compute_target="aml-cluster",
        runconfig=run_config,
        # Pass as script argument
        arguments=["--in_folder", prepped_data],
        # Specify PipelineData as input
        inputs=[prepped_data],
    )
    return Pipeline(workspace=ws, steps=[step1, step2])


def second_pipeline(ws: Workspace, environment: Environment | None = None) -> Pipeline:
    raw_ds = Dataset.get_by_name(ws, "raw_dataset")
    data_store = ws.get_default_datastore()
    prepped_data = PipelineData("prepped", datastore=data_store)
    run_config = RunConfiguration()
    run_config.environment = environment or Environment("default")

    # Step to run a Python script
    step1 = PythonScriptStep(
        name="prepare data",
        source_directory=str(HERE / "scripts"),
        script_name="data_prep.py",
        compute_target="aml-cluster",
        runconfig=run_config,
        inputs=[raw_ds.as_named_input("raw_data")],
        outputs=[prepped_data],
        arguments=["--folder", prepped_data],
        # Disable step reuse
        allow_reuse=False,
    )
    step2 = PythonScriptStep(
        name="train model",
        source_directory=str(HERE / "scripts"),
        script_name="train_model.py",
        compute_target="aml-cluster",
        runconfig=run_config,
        inputs=[prepped_data],
        arguments=["--folder", prepped_data],
    )
    return Pipeline(workspace=ws, steps=[step1, step2])


def main(ws: Workspace | None = None, environment: Environment | None = None) -> list[object]:
    ws = ws or Workspace.from_config()
    default = ws.get_default_datastore()
    print(
        f"workspace {ws.name!r}: registry {ws.registry_url}, default datastore {default.name} at {default.config.get('root')}"
    )
    setup(ws)
    runs = []
    experiment = Experiment(workspace=ws, name="training-pipeline")
    for build, regenerate in ((first_pipeline, False), (second_pipeline, True)):
        pipeline_run = experiment.submit(build(ws, environment), regenerate_outputs=regenerate)
        pipeline_run.wait_for_completion(show_output=True)
        runs.append(pipeline_run)
        for step in pipeline_run.get_steps():
            for name, output in step.get_outputs().items():
                print(
                    f"  output {step.name}/{name}: {output.datastore_name}:{output.path_on_datastore} (fingerprint {output.fingerprint[:12]})"
                )
            metrics = step.get_metrics()
            if metrics:
                print(f"  metrics {step.name}: {metrics}")
    for name, dataset in Dataset.get_all(ws).items():
        print(f"dataset {name}: version {dataset.version}, fingerprint {dataset.fingerprint[:12]}")
    return runs


if __name__ == "__main__":
    main()
