"""Script runs in containers: the environment's image, the run context without Airflow in the image."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Environment, Experiment, ScriptRunConfig
from airflow_mlw.core.compute import ComputeTarget, DockerCompute
from tests.conftest import require
from tests.runs.test_script_runs import load_example

SCRIPT = """
import sys
from airflow_mlw.core import Run
run = Run.get_context()
run.log("answer", 42)
run.log("loss", 0.5)
run.log("loss", 0.25)
print("has airflow:", "airflow" in sys.modules, file=sys.stderr)
try:
    import airflow  # noqa: F401
    sys.exit(7)
except ImportError:
    pass
open("outputs/result.txt", "w").write(sys.argv[1])
"""


def test_script_on_docker_compute_logs_metrics_without_airflow_in_the_image(
    workspace: Any, docker_engine: Any, base_image: str, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "job.py").write_text(SCRIPT)
    target = ComputeTarget.create(workspace, "docker-local", DockerCompute.provisioning_configuration())
    config = ScriptRunConfig(
        str(tmp_path / "src"),
        "job.py",
        arguments=["hello"],
        compute_target=target,
        environment=Environment.get(workspace, "MLW-minimal"),
    )
    run = Experiment(workspace, "docker_exp").submit(config)
    run.wait_for_completion(show_output=True)
    assert "has airflow: False" in run.driver_output()  # the container's output, kept with the run
    assert run.get_metrics() == {"answer": 42, "loss": [0.5, 0.25]}
    assert run.get_file_names() == ["outputs/result.txt", "logs/driver_log.txt"]
    assert Path(run.download_file("outputs/result.txt", str(tmp_path))).read_text() == "hello"


def test_seed_estimator_on_docker_compute(
    workspace: Any, docker_engine: Any, base_image: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw.core import Workspace

    monkeypatch.setenv("AIRFLOW__MLW__CONDA_PACKAGES_VIA", "pip")  # no conda channel is reachable here
    workspace = Workspace.get(workspace.name, registry_url=workspace.settings.registry_url)
    assert workspace.settings.conda_packages_via == "pip"
    ComputeTarget.create(workspace, "docker", DockerCompute.provisioning_configuration())
    run = load_example("seed_estimator").main(workspace, compute_target="docker")
    assert run.get_status() == "Finished"
    assert 0.5 < run.get_metrics()["AUC"] <= 1.0


def test_gpus_on_an_engine_without_them_is_a_clear_error(
    workspace: Any, docker_engine: Any, base_image: str, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "job.py").write_text("print('never runs')\n")
    ComputeTarget.create(workspace, "gpu-docker", DockerCompute.provisioning_configuration(gpus=1))
    config = ScriptRunConfig(
        str(tmp_path / "src"),
        "job.py",
        compute_target="gpu-docker",
        environment=Environment.get(workspace, "MLW-minimal"),
    )
    run = Experiment(workspace, "gpu").submit(config)
    assert run.get_status() == "Failed"
    logged = "".join(capfd.readouterr())
    assert "compute target 'gpu-docker' asks for 1 GPU(s), but the Docker engine at" in logged


def test_attached_compute_runs_on_another_engine(
    workspace: Any, docker_engine: Any, base_image: str, tmp_path: Path
) -> None:
    """A second dockerd plays the remote host: the environment image is built there (it has only
    the base image), and the step's container runs there, not on the worker's engine."""
    import docker

    from airflow_mlw.core.compute import AttachedCompute
    from tests.services import SecondDockerEngine

    remote = require("second Docker engine", lambda: SecondDockerEngine().start())
    try:
        remote.load_image(base_image)
        client = docker.DockerClient(base_url=remote.url)
        since = int(time.time()) - 1
        (tmp_path / "src").mkdir()
        (tmp_path / "src" / "job.py").write_text(SCRIPT)
        target = AttachedCompute.attach(
            workspace,
            "remote-docker",
            AttachedCompute.attach_configuration(docker_url=remote.url),
        )
        assert ComputeTarget(workspace, "remote-docker").type == "Attached"
        environment = Environment("remote-env")
        environment.docker.enabled = True
        config = ScriptRunConfig(
            str(tmp_path / "src"),
            "job.py",
            arguments=["far away"],
            compute_target=target,
            environment=environment,
        )
        run = Experiment(workspace, "attached").submit(config)
        run.wait_for_completion(show_output=False)
        assert run.get_metrics()["answer"] == 42
        assert Path(run.download_file("outputs/result.txt", str(tmp_path))).read_text() == "far away"
        built = [
            tag
            for image in client.images.list()
            for tag in image.tags
            if tag.startswith("mlw-env/remote-env:")
        ]
        assert len(built) == 1, client.images.list()
        events = client.events(
            since=since, until=int(time.time()) + 1, decode=True, filters={"type": "container"}
        )
        started = [e for e in events if e.get("Action") == "start"]
        assert any(e["from"] == built[0] for e in started), started
        client.close()
    finally:
        remote.stop()
    assert Path("/sys/class/net/docker0").exists(), "the main engine's bridge must survive"


TABULAR_SCRIPT = """
import importlib.util
from airflow_mlw.core import Dataset, Run  # as ported scripts import them

run = Run.get_context()
run.log("has_sqlalchemy", importlib.util.find_spec("sqlalchemy") is not None)
run.log("has_airflow", importlib.util.find_spec("airflow") is not None)
frame = run.input_datasets["iris"].to_pandas_dataframe()
run.log("rows", len(frame))
run.log_list("columns", list(frame.columns))
"""


def test_tabular_input_reads_in_an_image_without_sqlalchemy_or_airflow(
    workspace: Any, docker_engine: Any, base_image: str, tmp_path: Path
) -> None:
    """The in-script runtime needs the standard library, plus pandas/pyarrow for tabular reads."""
    from airflow_mlw.core import Dataset, Datastore

    root = tmp_path / "store"
    (root / "iris").mkdir(parents=True)
    (root / "iris" / "iris.csv").write_text("sepal,species\n5.1,setosa\n7.0,versicolor\n")
    store = Datastore.register_local(workspace, "tab_store", root)
    iris = Dataset.Tabular.from_delimited_files(path=(store, "iris/iris.csv")).register(workspace, "iris")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "read.py").write_text(TABULAR_SCRIPT)
    target = ComputeTarget.create(workspace, "docker-tab", DockerCompute.provisioning_configuration())
    config = ScriptRunConfig(
        str(tmp_path / "src"),
        "read.py",
        arguments=[iris.as_named_input("iris")],
        compute_target=target,
        environment=Environment.get(workspace, "MLW-pandas"),
    )
    run = Experiment(workspace, "tabular_docker").submit(config)
    run.wait_for_completion()
    assert run.get_metrics() == {
        "has_sqlalchemy": False,
        "has_airflow": False,
        "rows": 2,
        "columns": ["sepal", "species"],
    }
