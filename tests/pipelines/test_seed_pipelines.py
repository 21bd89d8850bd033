"""The DP-100 seed pipelines, ported by the rename, run end to end as Airflow DAG runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlw.core import Dataset
from tests.runs.test_script_runs import load_example


def test_both_seed_pipelines_run_end_to_end(workspace: Any, tmp_path: Path) -> None:
    first, second = load_example("seed_pipelines").main(workspace)
    for run in (first, second):
        assert run.get_status() == "Finished"
        assert [s.name for s in run.get_steps()] == ["prepare data", "train model"]
        (train,) = run.find_step_run("train model")
        assert 0.5 < train.get_metrics()["AUC"] <= 1.0
        (prep,) = run.find_step_run("prepare data")
        assert prep.get_metrics()["processed_rows"] == 600
        reference = prep.get_output_data("prepped").get_port_data_reference()
        assert reference.datastore_name == "workspacelocalstore"
        assert reference.path_on_datastore.startswith("mlw/runs/mlw_pipeline_training-pipeline/")
        assert reference.path_on_datastore.endswith("/prepare data/prepped")
        folder = prep.get_output_data("prepped").download(str(tmp_path / run.id))
        assert (Path(folder) / "data.csv").read_text().startswith("Pregnancies,")
    assert Dataset.get_by_name(workspace, "raw_dataset").version == 1


def test_first_seed_pipeline_on_docker_compute(
    workspace: Any, docker_engine: Any, base_image: str, tmp_path: Path
) -> None:
    """Steps in the curated MLW-sklearn image: inputs mounted read-only, outputs read-write."""
    from airflow_mlw.core import Environment, Experiment
    from airflow_mlw.core.compute import ComputeTarget, DockerCompute

    example = load_example("seed_pipelines")
    example.setup(workspace)
    ComputeTarget.create(workspace, "docker", DockerCompute.provisioning_configuration())
    pipeline = example.first_pipeline(workspace, Environment.get(workspace, "MLW-sklearn"))
    for step in pipeline.steps:
        step.compute_target = ComputeTarget(workspace, "docker")
    run = Experiment(workspace, "docker-pipeline").submit(pipeline)
    run.wait_for_completion(show_output=True)
    (train,) = run.find_step_run("train model")
    assert 0.5 < train.get_metrics()["AUC"] <= 1.0
    (prep,) = run.find_step_run("prepare data")
    folder = prep.get_output_data("prepped").download(str(tmp_path / "d"))
    assert (Path(folder) / "data.csv").read_text().startswith("Pregnancies,")
