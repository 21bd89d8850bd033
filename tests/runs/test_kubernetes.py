"""KubernetesCompute: steps as pods through the cncf-kubernetes provider's KubernetesPodOperator.

There is no Kubernetes cluster here. The pod spec the operator builds is checked field by field,
and in the end-to-end test the only stand-in is the cluster itself: ``KubernetesPodOperator.execute``
is replaced by a function that runs the pod's container spec (image, command, args, env, working
dir, volume mounts of the claim, read as bind mounts of the shared folder) on the real Docker
engine. Everything before and after (working copy on the shared volume, inputs, outputs, metrics,
registry) is the real code path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Environment, Experiment
from airflow_mlw.core.compute import ComputeTarget, ComputeTargetException, KubernetesCompute
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep

WRITE = """
import os, sys
from airflow_mlw.core import Run
os.makedirs(sys.argv[2], exist_ok=True)
text = open(os.path.join(sys.argv[1], "value.txt")).read() if os.path.isdir(sys.argv[1]) else sys.argv[1]
open(os.path.join(sys.argv[2], "value.txt"), "w").write(text + "!")
Run.get_context().log("cwd_is_source", os.getcwd() == "/mlw/run/source")
"""


def test_kubernetes_target_needs_a_shared_volume() -> None:
    with pytest.raises(ComputeTargetException, match="volume_claim"):
        KubernetesCompute.provisioning_configuration(namespace="ml")


def _pipeline(ws: Any, scripts: Path, target: Any) -> tuple[Pipeline, Any]:
    scripts.mkdir(exist_ok=True)
    (scripts / "write.py").write_text(WRITE)
    first_out, second_out = PipelineData("first_out"), PipelineData("second_out")
    run_config = type("RunConfiguration", (), {"environment": Environment("pod-env")})()
    PythonScriptStep(
        "write.py",
        name="first",
        source_directory=str(scripts),
        arguments=["hi", first_out],
        outputs=[first_out],
    )
    second = PythonScriptStep(
        "write.py",
        name="second",
        source_directory=str(scripts),
        arguments=[first_out, second_out],
        inputs=[first_out],
        outputs=[second_out],
        compute_target=target,
        runconfig=run_config,
    )
    return Pipeline(ws, [second]), second


def test_pod_spec(workspace: Any, base_image: str, tmp_path: Path) -> None:
    from airflow_mlw.execution.process import ScriptExecution, ScriptSpec
    from airflow_mlw.operators.kubernetes import KubernetesScriptOperator

    shared = tmp_path / "shared"
    target = ComputeTarget.create(
        workspace,
        "k8s",
        KubernetesCompute.provisioning_configuration(
            namespace="ml",
            volume_claim="mlw-data",
            shared_path=str(shared),
            image_registry="registry.example:5000/team",
            cpu="2",
            memory="4Gi",
            gpus=1,
            service_account="trainer",
            node_selector={"pool": "gpu"},
        ),
    )
    pipeline, _ = _pipeline(workspace, tmp_path / "scripts", target)
    dag = pipeline.to_dag("k8s_spec")
    task = dag.get_task("second")
    assert isinstance(task, KubernetesScriptOperator) and task.namespace == "ml"
    assert type(dag.get_task("first")).__name__ == "LocalScriptOperator"

    execution = ScriptExecution(
        workspace, "run-1", ScriptSpec(str(tmp_path / "scripts"), "write.py"), root=task.execution_root()
    )
    task._run_folder = execution.folder
    environ = execution.prepare(in_container=True)
    task.prepare_pod(workspace, execution, environ, ["/mlw/run/in", "/mlw/run/out"])
    pod = task.build_pod_request_obj(None, dry_run=True)
    container = pod.spec.containers[0]
    assert pod.metadata.namespace == "ml"
    assert pod.metadata.labels["mlw-run-id"] == "run-1"
    assert container.image.startswith("registry.example:5000/team/mlw-env/pod-env:")
    assert container.command == ["python"] and container.args == ["write.py", "/mlw/run/in", "/mlw/run/out"]
    assert container.working_dir == "/mlw/run/source"
    assert container.resources.limits == {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert pod.spec.service_account_name == "trainer" and pod.spec.node_selector == {"pool": "gpu"}
    [volume] = pod.spec.volumes
    assert volume.persistent_volume_claim.claim_name == "mlw-data"
    mounts = {m.mount_path: m for m in container.volume_mounts}
    assert execution.folder.parent == shared / "runs"
    assert mounts["/mlw/run"].sub_path == f"runs/{execution.folder.name}"
    assert mounts["/opt/mlw-runtime/airflow_mlw"].read_only
    assert (shared / mounts["/opt/mlw-runtime/airflow_mlw"].sub_path / "run.py").is_file()
    # beside it the runtime's dist-info, whose entry points let mlflow in the pod find the mlw:// store
    (dist_info,) = [m for m in mounts if m.startswith("/opt/mlw-runtime/airflow_mlw_runtime-")]
    assert "mlflow.tracking_store" in (shared / mounts[dist_info].sub_path / "entry_points.txt").read_text()
    env = {e.name: e.value for e in container.env}
    assert env["MLW_RUN_CONTEXT"] == "/mlw/run/context.json" and env["PYTHONPATH"] == "/opt/mlw-runtime"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.txt").write_text("a")
    assert task.visible_path("input", "x", elsewhere) == "/mlw/run/inputs/x"
    assert (execution.folder / "inputs" / "x" / "a.txt").read_text() == "a"
    with pytest.raises(ComputeTargetException, match="not on the shared volume"):
        task.visible_path("output", "y", elsewhere)
    execution.cleanup()


def test_pipeline_step_runs_as_a_pod(
    workspace: Any, base_image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from docker.types import Mount

    shared = tmp_path / "shared"
    target = ComputeTarget.create(
        workspace,
        "k8s",
        KubernetesCompute.provisioning_configuration(volume_claim="mlw-data", shared_path=str(shared)),
    )
    pods: list[Any] = []

    def run_pod_on_docker(self: Any, context: Any) -> None:
        pod = self.build_pod_request_obj(context, dry_run=True)
        pods.append(pod)
        container = pod.spec.containers[0]
        mounts = [
            Mount(m.mount_path, str(shared / (m.sub_path or "")), type="bind", read_only=bool(m.read_only))
            for m in container.volume_mounts
        ]
        docker.from_env().containers.run(
            container.image,
            command=container.command + container.args,
            environment={e.name: e.value for e in container.env},
            working_dir=container.working_dir,
            mounts=mounts,
            user=f"{__import__('os').getuid()}",
            remove=True,
        )

    monkeypatch.setattr(KubernetesPodOperator, "execute", run_pod_on_docker)
    pipeline, _ = _pipeline(workspace, tmp_path / "scripts", target)
    run = Experiment(workspace, "pods").submit(pipeline)
    run.wait_for_completion(show_output=False)
    assert len(pods) == 1 and pods[0].metadata.labels["mlw-compute"] == "k8s"
    second = run.find_step_run("second")[0]
    assert second.get_metrics() == {"cwd_is_source": True}
    out = Path(second.get_output_data("second_out").download(str(tmp_path / "got")))
    assert (out / "value.txt").read_text() == "hi!!"
    assert list((shared / "runs").iterdir()) == []  # working copies are removed after the run
