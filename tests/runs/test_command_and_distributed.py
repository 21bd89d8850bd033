"""``ScriptRunConfig(command=[...])`` and distributed jobs (``MpiConfiguration``,
``PyTorchConfiguration``) on local and Docker compute: N real processes with the rank variables
PyTorch's ``torchrun`` and MPI code read, all logging into the same run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Environment, Experiment, ScriptRunConfig
from airflow_mlw.core.compute import ComputeTarget, DockerCompute
from airflow_mlw.core.runconfig import MpiConfiguration, PyTorchConfiguration
from airflow_mlw.exceptions import MlwError

RANKS = """
import os, sys
from airflow_mlw.core import Run
run = Run.get_context()
keys = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "NODE_RANK", "MASTER_ADDR", "MASTER_PORT")
run.log_row("ranks", **{key.lower(): os.environ[key] for key in keys}, argv=" ".join(sys.argv[1:]))
"""


@pytest.fixture
def source(tmp_path: Path) -> str:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "ranks.py").write_text(RANKS)
    (tmp_path / "src" / "hello.py").write_text(
        "import os, sys\nfrom airflow_mlw.core import Run\n"
        "Run.get_context().log('argv', ' '.join(sys.argv[1:]) + ' rank=' + os.environ.get('RANK', '-'))\n"
    )
    return str(tmp_path / "src")


def rows(run: Any) -> list[dict[str, str]]:
    from airflow_mlw.execution.records import load_metrics

    return sorted(
        (value for name, _, value in load_metrics(run.workspace, run.id) if name == "ranks"),
        key=lambda row: int(row["rank"]),
    )


def test_command_runs_in_the_snapshot(workspace: Any, source: str) -> None:
    run = Experiment(workspace, "command").submit(
        ScriptRunConfig(source, command=["python", "hello.py", "--flag", 3])
    )
    # Not a distributed job: one process, no rank variables.
    assert run.get_metrics() == {"argv": "--flag 3 rank=-"}
    shell = Experiment(workspace, "command").submit(
        ScriptRunConfig(source, command="echo from-the-shell > outputs/said.txt")
    )
    assert shell.get_file_names() == ["outputs/said.txt", "logs/driver_log.txt"]


def test_an_mpi_job_starts_every_rank_on_local_compute(workspace: Any, source: str) -> None:
    config = ScriptRunConfig(
        source,
        "ranks.py",
        arguments=["--epochs", 2],
        distributed_job_config=MpiConfiguration(process_count_per_node=2, node_count=2),
    )
    run = Experiment(workspace, "mpi").submit(config)
    assert run.get_status() == "Finished"
    found = rows(run)
    assert [(r["rank"], r["local_rank"], r["node_rank"]) for r in found] == [
        ("0", "0", "0"),
        ("1", "1", "0"),
        ("2", "0", "1"),
        ("3", "1", "1"),
    ]
    assert {r["world_size"] for r in found} == {"4"}
    assert {r["master_addr"] for r in found} == {"127.0.0.1"} and len({r["master_port"] for r in found}) == 1
    assert {r["argv"] for r in found} == {"--epochs 2"}


def test_a_failing_rank_fails_the_run(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "fails").mkdir()
    (tmp_path / "fails" / "one.py").write_text(
        "import os, sys\nsys.exit(5 if os.environ['RANK'] == '1' else 0)\n"
    )
    config = ScriptRunConfig(
        str(tmp_path / "fails"), "one.py", distributed_job_config=PyTorchConfiguration(process_count=3)
    )
    run = Experiment(workspace, "failing_rank").submit(config)
    assert run.get_status() == "Failed"
    with pytest.raises(MlwError):
        Experiment(workspace, "both").submit(ScriptRunConfig(str(tmp_path), "one.py", command=["ls"]))


def test_a_pytorch_job_in_docker(workspace: Any, source: str, docker_engine: Any, base_image: str) -> None:
    ComputeTarget.create(workspace, "docker", DockerCompute.provisioning_configuration())
    environment = Environment("ranks")
    environment.docker.enabled = True
    config = ScriptRunConfig(
        source,
        "ranks.py",
        compute_target="docker",
        environment=environment,
        distributed_job_config=PyTorchConfiguration(process_count=2),
    )
    run = Experiment(workspace, "torch_docker").submit(config)
    assert run.get_status() == "Finished"
    assert [(r["rank"], r["world_size"], r["local_rank"]) for r in rows(run)] == [
        ("0", "2", "0"),
        ("1", "2", "1"),
    ]
