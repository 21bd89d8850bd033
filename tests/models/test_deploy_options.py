"""Where and how services run: InferenceCompute targets and their port ranges, Azure's ACI/AKS
deployment configurations as CPU and memory limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Model, Webservice
from airflow_mlw.core.compute import ComputeTarget, DockerCompute, InferenceCompute
from airflow_mlw.core.model import InferenceConfig
from airflow_mlw.core.webservice import AciWebservice, AksWebservice, LocalWebservice
from airflow_mlw.exceptions import ComputeTargetException, WebserviceException
from tests.models.conftest import free_port, linear_model, scoring_source, service_containers


def test_inference_compute_publishes_on_a_port_of_its_range(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    with pytest.raises(ComputeTargetException, match="port_range must be 'LOW-HIGH'"):
        InferenceCompute.provisioning_configuration(port_range="6000")
    low = free_port(count=2)
    target = ComputeTarget.create(
        workspace, "scoring", InferenceCompute.provisioning_configuration(port_range=f"{low}-{low + 1}")
    )
    assert ComputeTarget(workspace, "scoring").type == "Inference"
    model = linear_model(workspace, tmp_path / "m", [3.0])
    config = InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src"))
    deployed.extend(["one", "two", "three"])
    one = Model.deploy(workspace, "one", [model], config, deployment_target=target)
    two = Model.deploy(workspace, "two", [model], config, deployment_target="scoring")
    assert sorted(s.port for s in (one, two)) == [low, low + 1]
    assert (
        type(one) is Webservice
        and one.compute_type == "Inference"
        and two.run({"data": [[1]]})["scores"] == [3.0]
    )
    with pytest.raises(
        WebserviceException, match=f"every port of {low}-{low + 1} on 0.0.0.0 is already in use"
    ):
        Model.deploy(workspace, "three", [model], config, deployment_target=target)
    ComputeTarget.create(workspace, "docker", DockerCompute.provisioning_configuration())
    with pytest.raises(WebserviceException, match="deployment_target 'docker' is a Docker target"):
        Model.deploy(workspace, "three", [model], config, deployment_target="docker")


def test_aci_deployment_configuration_limits_cpu_and_memory(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    model = linear_model(workspace, tmp_path / "m", [1.0])
    config = InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src"))
    deployed.append("aci")
    limits = AciWebservice.deploy_configuration(cpu_cores=0.5, memory_gb=0.25, auth_enabled=False)
    service = Model.deploy(workspace, "aci", [model], config, limits)
    service.wait_for_deployment()
    scoring = [c for c in service_containers(workspace, "aci") if c.labels["mlw.role"] == "scoring"][0]
    host = scoring.attrs["HostConfig"]
    assert (host["NanoCpus"], host["Memory"]) == (500_000_000, 256 * 2**20)
    assert (
        type(Webservice(workspace, "aci")) is LocalWebservice
        and AciWebservice(workspace, "aci").name == "aci"
    )
    with pytest.raises(WebserviceException, match="service 'aci' is not a AksWebservice"):
        AksWebservice(workspace, "aci")
    # An update keeps the limits unless it is given others.
    service.update(models=[linear_model(workspace, tmp_path / "m", [2.0])])
    scoring = [c for c in service_containers(workspace, "aci") if c.labels["mlw.role"] == "scoring"][0]
    assert scoring.attrs["HostConfig"]["NanoCpus"] == 500_000_000
    assert service.run({"data": [[1]]}) == {"version": 2, "scores": [2.0]}
