"""The surface ported Azure ML v1 code (DP-100 labs, published notebooks) touches first: import paths,
subpackages as attributes, workspace properties and details, compute status, ``active_only``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

HEAVY = ("airflow", "sqlalchemy", "pandas", "docker", "pyarrow")


def _python(code: str) -> str:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_subpackages_are_attributes_and_core_stays_light() -> None:
    out = _python(
        "import sys, json, airflow_mlw.core\n"
        f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r})\n"
        "import airflow_mlw\n"
        "chains = [\n"
        "    airflow_mlw.pipeline.core.PipelineData.__name__,\n"
        "    airflow_mlw.pipeline.steps.PythonScriptStep.__name__,\n"
        "    airflow_mlw.data.dataset_consumption_config.DatasetConsumptionConfig.__name__,\n"
        "    airflow_mlw.data.OutputFileDatasetConfig.__name__,\n"
        "    airflow_mlw.core.runconfig.RunConfiguration.__name__,\n"
        "    airflow_mlw.train.estimator.Estimator.__name__,\n"
        "]\n"
        "print(json.dumps({'heavy': heavy, 'chains': chains, 'dir': dir(airflow_mlw.pipeline)}))"
    )
    got = json.loads(out)
    assert got["heavy"] == []
    assert got["chains"] == [
        "PipelineData",
        "PythonScriptStep",
        "DatasetConsumptionConfig",
        "OutputFileDatasetConfig",
        "RunConfiguration",
        "Estimator",
    ]
    assert got["dir"] == ["core", "steps"]


def test_unknown_attribute_of_a_package_is_an_attribute_error() -> None:
    import airflow_mlw

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        airflow_mlw.nothing_here  # noqa: B018
    with pytest.raises(AttributeError):
        airflow_mlw.core._private  # noqa: B018


def test_import_paths_of_v1_code() -> None:
    from airflow_mlw.compute.runconfig import RunConfiguration as RealRunConfiguration
    from airflow_mlw.core import RunConfiguration, ScriptRun
    from airflow_mlw.core.run import Run
    from airflow_mlw.core.runconfig import (
        DEFAULT_CPU_IMAGE,
        DEFAULT_GPU_IMAGE,
        CondaDependencies,
        DockerConfiguration,
        MpiConfiguration,
        PyTorchConfiguration,
    )
    from airflow_mlw.data.dataset_consumption_config import DatasetConsumptionConfig
    from airflow_mlw.datasets.consumption import DatasetConsumptionConfig as RealConsumption
    from airflow_mlw.exceptions import (
        ActivityFailedException,
        ComputeTargetException,
        MlwError,
        ScriptFailedError,
        UserErrorException,
        WebserviceException,
    )
    from airflow_mlw.pipeline.core.run import PipelineRun, StepRun
    from airflow_mlw.run import Run as RealRun
    from airflow_mlw.runs.pipeline_run import PipelineRun as RealPipelineRun
    from airflow_mlw.runs.pipeline_run import StepRun as RealStepRun
    from airflow_mlw.runs.submitted import SubmittedRun

    assert RunConfiguration is RealRunConfiguration and ScriptRun is SubmittedRun and Run is RealRun
    assert (PipelineRun, StepRun) == (RealPipelineRun, RealStepRun)
    assert DatasetConsumptionConfig is RealConsumption
    assert DEFAULT_CPU_IMAGE == DEFAULT_GPU_IMAGE == "mlw-base:bookworm"
    conda = CondaDependencies.create(pip_packages=["scikit-learn"])
    assert "scikit-learn" in conda.serialize_to_string()
    for name in (UserErrorException, ActivityFailedException, ComputeTargetException, WebserviceException):
        assert issubclass(name, MlwError)
    assert issubclass(ScriptFailedError, ActivityFailedException)

    mpi = MpiConfiguration(process_count_per_node=2, node_count=3)
    assert (mpi.process_count_per_node, mpi.node_count) == (2, 3)
    torch = PyTorchConfiguration(communication_backend_name="gloo", process_count=4, node_count=2)
    assert (torch.communication_backend_name, torch.process_count, torch.node_count) == ("gloo", 4, 2)
    assert PyTorchConfiguration().process_count is None
    docker = DockerConfiguration(use_docker=True, arguments=["--cpus", "1"])
    assert (docker.use_docker, docker.shared_volumes, docker.arguments) == (True, True, ["--cpus", "1"])


@pytest.mark.parametrize(
    ("make", "named"),
    [
        ("MpiConfiguration(process_count_per_node=0)", "process_count_per_node"),
        ("MpiConfiguration(node_count='2')", "node_count"),
        ("PyTorchConfiguration(process_count=-1)", "process_count"),
        ("DockerConfiguration(use_docker='yes')", "use_docker"),
    ],
)
def test_bad_run_configuration_values_are_named(make: str, named: str) -> None:
    from airflow_mlw.core import runconfig
    from airflow_mlw.exceptions import RunConfigurationError, UserErrorException

    with pytest.raises(RunConfigurationError, match=named) as raised:
        eval(make, vars(runconfig))
    assert isinstance(raised.value, UserErrorException)


def test_workspace_strings_and_details(workspace: Any) -> None:
    from airflow_mlw.core import Workspace

    assert "Azure region: " + workspace.location == "Azure region: local"
    assert (workspace.subscription_id, workspace.resource_group) == ("", "")
    details = workspace.get_details()
    assert {k: details[k] for k in ("name", "location", "resourceGroup", "subscriptionId", "id")} == {
        "name": "test",
        "location": "local",
        "resourceGroup": "",
        "subscriptionId": "",
        "id": "/workspaces/test",
    }
    assert details["default_datastore"] == "workspacelocalstore" and details["creationTime"]
    azure = Workspace("sub-1", "rg-1", "test", registry_url=workspace.settings.registry_url)
    assert azure.get_details()["id"] == (
        "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.MachineLearningServices/workspaces/test"
    )
    # Pickled before these were strings (published DAG files of earlier versions).
    old = Workspace.__new__(Workspace)
    old.__setstate__({**workspace.__getstate__(), "subscription_id": None, "location": None})
    assert (old.subscription_id, old.location) == ("", "local")


def test_workspace_datasets_models_webservices_by_name(workspace: Any, tmp_path: Path) -> None:
    from airflow_mlw.core import Dataset, Model

    data = tmp_path / "iris.csv"
    data.write_text("a,b\n1,2\n")
    datastore = workspace.get_default_datastore()
    datastore.upload_files([str(data)], target_path="iris", show_progress=False)
    Dataset.Tabular.from_delimited_files([(datastore, "iris/iris.csv")]).register(workspace, "iris")
    second = Dataset.Tabular.from_delimited_files([(datastore, "iris/iris.csv")])
    second.register(workspace, "iris", create_new_version=True)
    (tmp_path / "model.pkl").write_bytes(b"model-1")
    Model.register(workspace, model_path=str(tmp_path / "model.pkl"), model_name="clf")
    (tmp_path / "model.pkl").write_bytes(b"model-2")
    Model.register(workspace, model_path=str(tmp_path / "model.pkl"), model_name="clf")

    assert list(workspace.datasets) == ["iris"]
    assert list(workspace.models) == ["clf"] and workspace.models["clf"].version == 2
    assert workspace.webservices == {}


def test_compute_status_is_a_string_with_azure_attributes(workspace: Any) -> None:
    from airflow_mlw.core.compute import AmlCompute, ComputeTarget

    cluster = ComputeTarget.create(
        workspace,
        "cpu-cluster",
        AmlCompute.provisioning_configuration(vm_size="STANDARD_DS11_V2", max_nodes=3),
    )
    status = cluster.get_status()
    assert status == "Succeeded" and str(status) == "Succeeded" and f"{status}" == "Succeeded"
    assert (status.allocation_state, status.current_node_count) == ("Steady", 0)
    assert status.node_state_counts.idle_node_count == 3
    serialized = status.serialize()
    assert serialized["provisioningState"] == "Succeeded" and serialized["vmSize"] == "STANDARD_DS11_V2"
    assert serialized["nodeStateCounts"]["idleNodeCount"] == 3
    assert serialized["nodeStateCounts"]["runningNodeCount"] == 0
    local = ComputeTarget(workspace, "local").get_status()
    assert local == "Succeeded" and local.serialize()["currentNodeCount"] == 0


def test_active_only_as_azure_accepts_it(
    workspace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow_mlw.pipeline.core import PipelineEndpoint, PublishedPipeline, Schedule
    from tests.pipelines.test_publish import make_pipeline

    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", str(tmp_path / "dags"))
    first = make_pipeline(workspace, tmp_path).publish("p1")
    second = make_pipeline(workspace, tmp_path).publish("p2")
    endpoint = PipelineEndpoint.publish(workspace, "ep", None, first)
    endpoint.add(second)
    second.disable()

    assert [p.id for p in endpoint.list_pipelines(active_only=True)] == [first.id]
    assert [p.id for p in endpoint.list_pipelines(active_only=False)] == [first.id, second.id]
    assert [p.id for p in endpoint.list_pipelines()] == [first.id]  # Azure's default: active only
    assert [p.id for p in PublishedPipeline.list(workspace, active_only=True)] == [first.id]
    assert {p.id for p in PublishedPipeline.list(workspace, active_only=False)} == {first.id, second.id}
    assert [p.id for p in PublishedPipeline.get_all(workspace, active_only=True)] == [first.id]
    endpoint.disable()
    assert PipelineEndpoint.list(workspace, active_only=True) == []
    assert [e.id for e in PipelineEndpoint.list(workspace, active_only=False)] == [endpoint.id]
    assert [e.id for e in PipelineEndpoint.get_all(workspace, active_only=False)] == [endpoint.id]
    assert Schedule.list(workspace, active_only=True) == []
    assert Schedule.list(workspace, active_only=False) == []
