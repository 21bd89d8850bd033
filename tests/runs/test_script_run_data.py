"""Data in script runs is wired as in pipeline steps (issue 15's silent wrong result).

Before, a dataset passed in ``ScriptRunConfig(arguments=[..., ds.as_named_input('iris')])`` reached
the script as the text ``"DatasetConsumptionConfig(name='iris', mode='direct')"`` and
``run.input_datasets['iris']`` raised KeyError. Real parts: an in-process Airflow DAG run, the
registry, a local datastore, the script as a process.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Dataset, Datastore, Environment, Experiment, ScriptRunConfig
from airflow_mlw.core.runconfig import RunConfiguration
from airflow_mlw.data import OutputFileDatasetConfig
from airflow_mlw.datasets.versioning import lineage_of
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipeline.core import PipelineParameter
from airflow_mlw.pipeline.steps import PythonScriptStep
from airflow_mlw.train.estimator import Estimator

SCRIPT = """
import argparse, json, os
from pathlib import Path
from airflow_mlw.core import Run

parser = argparse.ArgumentParser()
parser.add_argument("--table")
parser.add_argument("--images")
parser.add_argument("--copies")
parser.add_argument("--out")
args = parser.parse_args()
run = Run.get_context()
frame = run.input_datasets["iris"].to_pandas_dataframe()
run.log("rows", len(frame))
run.log("table_arg_is_a_path", os.path.exists(args.table))
images = sorted(p.name for p in Path(args.images).iterdir())
assert run.input_datasets["images"] + "" == args.images  # a file input is its path, as in Azure
run.log_list("images", images)
run.log("copies_are_files", all(not p.is_symlink() for p in Path(args.copies).iterdir()))
run.log("inputs", ",".join(sorted(run.input_datasets)))
Path(args.out).mkdir(parents=True, exist_ok=True)
(Path(args.out) / "scores.csv").write_text("id,score\\n" + "".join(f"{i},{i * 2}\\n" for i in range(len(frame))))
"""


@pytest.fixture
def data(workspace: Any, tmp_path: Path) -> dict[str, Any]:
    root = tmp_path / "store"
    (root / "iris").mkdir(parents=True)
    (root / "iris" / "iris.csv").write_text(
        "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n"
    )
    (root / "images").mkdir()
    for name in ("a.png", "b.png"):
        (root / "images" / name).write_bytes(b"\x89PNG" + name.encode())
    store = Datastore.register_local(workspace, "lab_store", root)
    table = Dataset.Tabular.from_delimited_files(path=(store, "iris/iris.csv")).register(workspace, "iris")
    images = Dataset.File.from_files(path=(store, "images/*.png")).register(workspace, "images")
    source = tmp_path / "src"
    source.mkdir()
    (source / "score.py").write_text(SCRIPT)
    return {"table": table, "images": images, "source": str(source)}


def _arguments(data: dict[str, Any], output: Any) -> list[Any]:
    return [
        "--table",
        data["table"].as_named_input("iris"),
        "--images",
        data["images"].as_named_input("images").as_mount(),
        "--copies",
        data["images"].as_named_input("copies").as_download(),
        "--out",
        output,
    ]


def test_datasets_in_script_arguments_reach_the_script_as_paths(
    workspace: Any, data: dict[str, Any], tmp_path: Path
) -> None:
    output = OutputFileDatasetConfig("scores").register_on_complete("scores")
    config = ScriptRunConfig(data["source"], "score.py", arguments=_arguments(data, output))
    run = Experiment(workspace, "script_data").submit(config)
    run.wait_for_completion()

    metrics = run.get_metrics()
    assert metrics["rows"] == 3
    assert metrics["table_arg_is_a_path"] is True
    assert metrics["images"] == ["a.png", "b.png"]
    assert metrics["copies_are_files"] is True
    assert metrics["inputs"] == "copies,images,iris"
    # The output was committed and registered as a dataset version.
    scores = Dataset.get_by_name(workspace, "scores")
    assert scores.version == 1
    (written,) = scores.download(str(tmp_path / "scores"))
    assert Path(written).read_text() == "id,score\n0,0\n1,2\n2,4\n"
    # Lineage: the run read iris version 1 and produced scores version 1.
    assert sorted(run.input_dataset_ids()) == sorted([data["table"].id, data["images"].id])
    consumed = [
        entry for entry in lineage_of(workspace, data["table"].id) if entry["direction"] == "consumed"
    ]
    assert consumed and consumed[-1]["task_id"] == "script"
    produced = lineage_of(workspace, scores.id)
    assert [entry["direction"] for entry in produced] == ["produced"]


def test_the_same_config_submits_twice(workspace: Any, data: dict[str, Any]) -> None:
    """An output object of a script run belongs to no step: resubmitting the config works."""
    output = OutputFileDatasetConfig("scores").register_on_complete("twice")
    config = ScriptRunConfig(data["source"], "score.py", arguments=_arguments(data, output))
    first = Experiment(workspace, "twice").submit(config)
    second = Experiment(workspace, "twice").submit(config)
    assert (first.get_status(), second.get_status()) == ("Finished", "Finished")
    # Each run writes its own location: a new version, with the same content fingerprint.
    versions = [Dataset.get_by_name(workspace, "twice", version=n) for n in (1, 2)]
    assert versions[0].fingerprint == versions[1].fingerprint


def test_estimator_inputs_and_script_params_hold_data(workspace: Any, data: dict[str, Any]) -> None:
    output = OutputFileDatasetConfig("scores")
    estimator = Estimator(
        data["source"],
        entry_script="score.py",
        script_params={
            "--table": data["table"].as_named_input("iris"),
            "--images": data["images"].as_named_input("images").as_mount(),
            "--copies": data["images"].as_named_input("copies").as_download(),
            "--out": output,
        },
        inputs=[data["table"].as_named_input("unused_table")],
    )
    run = Experiment(workspace, "estimator_data").submit(estimator)
    run.wait_for_completion()
    assert run.get_metrics()["inputs"] == "copies,images,iris,unused_table"


def test_a_pipeline_parameter_in_a_script_run_is_refused(workspace: Any, data: dict[str, Any]) -> None:
    config = ScriptRunConfig(data["source"], "score.py", arguments=["--lr", PipelineParameter("lr", 0.1)])
    with pytest.raises(MlwError, match="PipelineParameter 'lr' is for pipelines"):
        Experiment(workspace, "refused").submit(config)


def test_run_config_is_a_live_run_configuration(data: dict[str, Any]) -> None:
    environment = Environment("trainer")
    config = ScriptRunConfig(data["source"], "score.py", compute_target="cpu-cluster")
    assert isinstance(config.run_config, RunConfiguration)
    assert config.run_config.target == "cpu-cluster"
    config.run_config.environment = environment
    assert config.environment is environment
    step = PythonScriptStep("score.py", source_directory=data["source"], runconfig=config.run_config)
    assert (step.environment, step.compute_target) == (environment, "cpu-cluster")
    # A RunConfiguration passed in is the one the config uses.
    given = RunConfiguration()
    given.target = "docker"
    assert ScriptRunConfig(data["source"], "score.py", run_config=given).compute_target == "docker"


def test_run_config_environment_variables_reach_the_script(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "env_src").mkdir()
    (tmp_path / "env_src" / "echo.py").write_text(
        "import os\nfrom airflow_mlw.core import Run\nRun.get_context().log('greeting', os.environ['GREETING'])\n"
    )
    config = ScriptRunConfig(str(tmp_path / "env_src"), "echo.py")
    config.run_config.environment_variables = {"GREETING": "hello"}
    run = Experiment(workspace, "env_vars").submit(config)
    assert run.get_metrics() == {"greeting": "hello"}
    # The user's environment object is left as it was.
    assert config.environment.environment_variables == {}


def test_show_output_prints_what_the_script_printed(
    workspace: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # and get_all_logs downloads it
    (tmp_path / "talk").mkdir()
    (tmp_path / "talk" / "talk.py").write_text(
        "import sys\nprint('epoch 1 loss 0.5')\nprint('warning: slow', file=sys.stderr)\nsys.exit(2)\n"
    )
    run = Experiment(workspace, "talk").submit(ScriptRunConfig(str(tmp_path / "talk"), "talk.py"))
    capsys.readouterr()
    from airflow_mlw.exceptions import ActivityFailedException

    with pytest.raises(ActivityFailedException, match="exited with code 2"):
        run.wait_for_completion(show_output=True)
    printed = capsys.readouterr().out
    assert "epoch 1 loss 0.5" in printed and "warning: slow" in printed
    assert "logs/driver_log.txt" in run.get_file_names()
    assert "epoch 1 loss 0.5" in run.get_details_with_logs()["logFiles"]["logs/driver_log.txt"]
    (saved,) = run.get_all_logs(destination=str(tmp_path / "logs"))
    assert (
        Path(saved) == tmp_path / "logs" / "logs" / "driver_log.txt"
        and "warning: slow" in Path(saved).read_text()
    )


def test_docker_runtime_config_turns_docker_on_for_the_run(data: dict[str, Any]) -> None:
    from airflow_mlw.core.runconfig import DockerConfiguration

    environment = Environment("plain")
    config = ScriptRunConfig(
        data["source"],
        "score.py",
        environment=environment,
        docker_runtime_config=DockerConfiguration(use_docker=True),
    )
    assert config.run_config.docker.use_docker is True
    used = config.run_environment()
    assert used.docker.enabled and not environment.docker.enabled  # the user's object is untouched
    assert used.spec()["python"] == environment.spec()["python"]
    off = ScriptRunConfig(
        data["source"], "score.py", docker_runtime_config=DockerConfiguration(use_docker=False)
    )
    assert off.run_environment().docker.enabled is False


def test_one_named_file_mounts_as_the_file_and_a_folder_of_one_file_as_the_folder(
    workspace: Any, tmp_path: Path
) -> None:
    """Azure's rule: a definition naming one file gives the file's path; a folder (or a glob)
    gives the folder, even when it holds a single file."""
    root = tmp_path / "store"
    (root / "single").mkdir(parents=True)
    (root / "single" / "only.txt").write_text("one")
    store = Datastore.register_local(workspace, "single_store", root)
    source = tmp_path / "src"
    source.mkdir()
    (source / "kinds.py").write_text(
        "import os, sys\nfrom airflow_mlw.core import Run\nrun = Run.get_context()\n"
        "run.log('file_is_file', os.path.isfile(sys.argv[1]))\n"
        "run.log('folder_lists', ','.join(os.listdir(sys.argv[2])))\n"
    )
    one_file = Dataset.File.from_files(path=(store, "single/only.txt"))
    folder = Dataset.File.from_files(path=(store, "single"))
    arguments = [one_file.as_named_input("file").as_mount(), folder.as_named_input("folder").as_mount()]
    run = Experiment(workspace, "single_file").submit(
        ScriptRunConfig(str(source), "kinds.py", arguments=arguments)
    )
    run.wait_for_completion()
    assert run.get_metrics() == {"file_is_file": True, "folder_lists": "only.txt"}
