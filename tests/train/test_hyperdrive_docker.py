"""A sweep on Docker compute: each trial a container of the environment's image; the trial a policy
stops ends ``Canceled`` and its container is gone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Environment, Experiment, ScriptRunConfig
from airflow_mlw.core.compute import ComputeTarget, DockerCompute
from airflow_mlw.train.hyperdrive import (
    BanditPolicy,
    GridParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    choice,
)
from tests.train.scripts import EPOCHS, write_source

#: The container's id starts with its hostname: logged first, so a stopped trial has it too.
IN_CONTAINER = (
    "import socket\nfrom airflow_mlw.core import Run as _Run\n_Run.get_context().log_list('host', [socket.gethostname()])\n"
    + EPOCHS
)


@pytest.mark.docker
def test_policy_stops_a_trial_container(
    workspace: Any, docker_engine: Any, base_image: str, tmp_path: Path
) -> None:
    import docker

    source = write_source(tmp_path / "src", "epochs.py", IN_CONTAINER)
    target = ComputeTarget.create(workspace, "docker-local", DockerCompute.provisioning_configuration())
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(
            source,
            "epochs.py",
            arguments=["--steps", "15", "--pause", "0.3"],
            compute_target=target,
            environment=Environment.get(workspace, "MLW-minimal"),
        ),
        hyperparameter_sampling=GridParameterSampling({"--quality": choice(1.0, 0.0)}),
        policy=BanditPolicy(slack_factor=0.1, delay_evaluation=2),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=2,
    )
    run = Experiment(workspace, "docker-sweep").submit(config)
    run.wait_for_completion()
    assert run.get_status() == "Finished"
    sampled = run.get_hyperparameters()
    by_quality = {json.loads(sampled[c.id])["--quality"]: c for c in run.get_children()}
    good, bad = by_quality[1.0], by_quality[0.0]
    assert good.get_status() == "Finished" and len(good.get_metrics()["score"]) == 15
    assert bad.get_status() == "Canceled"
    client = docker.DockerClient(base_url=docker_engine.url)
    (host,) = bad.get_metrics()["host"]
    assert not [c for c in client.containers.list(all=True) if c.id.startswith(host)]
