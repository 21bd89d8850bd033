"""Pipeline graphs, DAGs, parameters and data flow, run for real through Airflow's dag.test()."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Dataset, Experiment
from airflow_mlw.pipelines import (
    OutputFileDatasetConfig,
    Pipeline,
    PipelineData,
    PipelineParameter,
    PythonScriptStep,
    StepSequence,
)
from airflow_mlw.pipelines.graph import PipelineValidationError
from tests.airflow_harness import run_dag, step_upstreams, task_states

COPY = """
import argparse, os, sys
from airflow_mlw.core import Run
p = argparse.ArgumentParser()
p.add_argument("--inp", default=None)
p.add_argument("--out", default=None)
p.add_argument("--text", default="")
p.add_argument("--n", type=int, default=1)
a = p.parse_args()
text = a.text
if a.inp:
    text = open(os.path.join(a.inp, "value.txt")).read() + text
if a.out:
    os.makedirs(a.out, exist_ok=True)
    open(os.path.join(a.out, "value.txt"), "w").write(text * a.n)
Run.get_context().log("length", len(text * a.n))
if os.environ.get("AML_PARAMETER_mode"):
    Run.get_context().log("mode", os.environ["AML_PARAMETER_mode"])
"""


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "copy.py").write_text(COPY)
    (folder / "fail.py").write_text("import sys\nprint('no good', file=sys.stderr)\nsys.exit(2)\n")
    (folder / "slow_write.py").write_text(
        "import os, sys, time\nos.makedirs(sys.argv[1], exist_ok=True)\nopen(os.path.join(sys.argv[1], 'part.txt'), 'w').write('half')\n"
        "open(os.environ['MLW_TEST_MARK'], 'w').write('started')\ntime.sleep(60)\n"
    )
    return folder


def chain(scripts: Path) -> tuple[PythonScriptStep, PythonScriptStep, PipelineData]:
    first_out = PipelineData("first_out")
    first = PythonScriptStep(
        "copy.py",
        name="first",
        source_directory=str(scripts),
        arguments=["--out", first_out, "--text", "a"],
        outputs=[first_out],
    )
    second_out = PipelineData("second_out")
    second = PythonScriptStep(
        "copy.py",
        name="second",
        source_directory=str(scripts),
        arguments=["--inp", first_out, "--out", second_out, "--text", "b"],
        inputs=[first_out],
        outputs=[second_out],
    )
    return first, second, second_out


def test_producers_are_pulled_in_and_data_flows(workspace: Any, scripts: Path, tmp_path: Path) -> None:
    first, second, second_out = chain(scripts)
    pipeline = Pipeline(workspace, steps=[second])
    assert [s.name for s in pipeline.steps] == ["second", "first"]
    run = Experiment(workspace, "chain").submit(pipeline)
    run.wait_for_completion(show_output=False)
    (step,) = run.find_step_run("second")
    folder = step.get_output_data("second_out").download(str(tmp_path / "out"))
    assert (Path(folder) / "value.txt").read_text() == "ab"
    assert step.get_metrics() == {"length": 2}
    details = run.get_details()
    assert details["startTimeUtc"] is not None and details["endTimeUtc"] is not None
    assert details["startTimeUtc"] <= step.get_details()["startTimeUtc"] <= details["endTimeUtc"]


def test_dag_has_params_edges_and_no_io(workspace: Any, scripts: Path, tmp_path: Path) -> None:
    registry = Path(workspace.settings.registry_url.removeprefix("sqlite:///"))
    before = registry.stat().st_mtime_ns
    n = PipelineParameter("n", default_value=2)
    mode = PipelineParameter("mode", default_value="fast")
    out = PipelineData("out")
    a = PythonScriptStep(
        "copy.py",
        name="a",
        source_directory=str(scripts),
        arguments=["--out", out, "--n", n, "--text", "x"],
        outputs=[out],
        params={"mode": mode},
    )
    b = PythonScriptStep(
        "copy.py", name="b", source_directory=str(scripts), arguments=["--inp", out], inputs=[out]
    )
    c = PythonScriptStep("copy.py", name="c", source_directory=str(scripts))
    c.run_after(b)
    dag = Pipeline(workspace, steps=[a, b, c]).to_dag("mlw_params_dag")
    assert registry.stat().st_mtime_ns == before, "building the DAG touched the registry"
    assert dag.params["n"] == 2 and dag.params.get_param("n").schema["type"] == "integer"
    assert dag.params["regenerate_outputs"] is False
    assert step_upstreams(dag) == {"a": [], "b": ["a"], "c": ["b"]}
    dag_run = run_dag(dag, {"n": 3, "mode": "slow"})
    assert task_states(dag_run) == {"a": "success", "b": "success", "c": "success"}
    from tests.airflow_harness import xcom_of

    assert xcom_of(dag_run, "a")["metrics"] == {"length": 3, "mode": "slow"}
    with pytest.raises(Exception, match="n"):
        run_dag(dag, {"n": "not a number"})


def test_step_sequence_and_fan_out(workspace: Any, scripts: Path) -> None:
    steps = [PythonScriptStep("copy.py", name=f"s{i}", source_directory=str(scripts)) for i in range(4)]
    dag = Pipeline(workspace, steps=StepSequence(steps=[steps[0], [steps[1], steps[2]], steps[3]])).to_dag(
        "mlw_sequence"
    )
    assert step_upstreams(dag) == {
        "s0": [],
        "s1": ["s0"],
        "s2": ["s0"],
        "s3": ["s1", "s2"],
    }


def test_validation_names_the_problem(workspace: Any, scripts: Path) -> None:
    a = PythonScriptStep("copy.py", name="same", source_directory=str(scripts))
    b = PythonScriptStep("copy.py", name="same", source_directory=str(scripts))
    with pytest.raises(PipelineValidationError, match="two steps are named 'same'"):
        Pipeline(workspace, [a, b]).validate()
    x = PythonScriptStep("copy.py", name="x", source_directory=str(scripts))
    y = PythonScriptStep("copy.py", name="y", source_directory=str(scripts))
    x.run_after(y)
    y.run_after(x)
    with pytest.raises(PipelineValidationError, match="cycle: "):
        Pipeline(workspace, [x, y]).validate()
    out = PipelineData("shared")
    PythonScriptStep("copy.py", name="w1", source_directory=str(scripts), outputs=[out])
    with pytest.raises(Exception, match="output 'shared' is written by two steps: 'w1' and 'w2'"):
        PythonScriptStep("copy.py", name="w2", source_directory=str(scripts), outputs=[out])
    orphan = PipelineData("orphan")
    consumer = PythonScriptStep("copy.py", name="c", source_directory=str(scripts), inputs=[orphan])
    with pytest.raises(PipelineValidationError, match="consumes 'orphan', which no step produces"):
        Pipeline(workspace, [consumer]).validate()


def test_missing_script_fails_the_step_and_downstream_does_not_run(
    workspace: Any, scripts: Path, tmp_path: Path
) -> None:
    out = PipelineData("ok_out")
    good = PythonScriptStep(
        "copy.py",
        name="good",
        source_directory=str(scripts),
        arguments=["--out", out, "--text", "z"],
        outputs=[out],
    )
    bad_out = PipelineData("bad_out")
    bad = PythonScriptStep(
        "fail.py",
        name="bad",
        source_directory=str(scripts),
        arguments=["--inp", out],
        inputs=[out],
        outputs=[bad_out],
    )
    after = PythonScriptStep("missing.py", name="after", source_directory=str(scripts), inputs=[bad_out])
    dag_run = run_dag(Pipeline(workspace, [good, bad, after]).to_dag("mlw_failing_pipeline"))
    assert task_states(dag_run) == {"good": "success", "bad": "failed", "after": "upstream_failed"}
    run = Experiment(workspace, "failing").submit(Pipeline(workspace, [good, bad, after]))
    assert run.get_status() == "Failed"
    (good_run,) = run.find_step_run("good")
    assert (
        Path(good_run.get_output_data("ok_out").download(str(tmp_path / "o"))) / "value.txt"
    ).read_text() == "z"


def test_outputs_register_as_dataset_versions(workspace: Any, scripts: Path) -> None:
    out = OutputFileDatasetConfig(
        name="cleaned", destination=(workspace.get_default_datastore(), "cleaned/{run-id}/{output-name}")
    )
    step = PythonScriptStep(
        "copy.py", name="produce", source_directory=str(scripts), arguments=["--out", out, "--text", "q"]
    )
    assert step.outputs == [out], "an OutputFileDatasetConfig in arguments is an output"
    out.register_on_complete("cleaned_data")
    run = Experiment(workspace, "register").submit(Pipeline(workspace, [step]))
    (produced,) = run.find_step_run("produce")
    reference = produced.get_output_data("cleaned")
    assert reference.path_on_datastore.startswith("cleaned/") and reference.path_on_datastore.endswith(
        "/cleaned"
    )
    dataset = Dataset.get_by_name(workspace, "cleaned_data")
    assert dataset.version == 1 and dataset.to_path() == ["/value.txt"]


KILLED = """
import sys
from airflow_mlw.core import Workspace
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep
from airflow_mlw.runs.inprocess import run_dag
ws = Workspace.get("test", registry_url=sys.argv[1])
out = PipelineData("slow_out")
step = PythonScriptStep("slow_write.py", name="slow", source_directory=sys.argv[2], arguments=[out], outputs=[out])
run_dag(Pipeline(ws, [step]).to_dag("mlw_killed"))
"""


def test_killed_step_leaves_no_visible_output(workspace: Any, scripts: Path, tmp_path: Path) -> None:
    mark = tmp_path / "started"
    env = {**os.environ, "MLW_TEST_MARK": str(mark)}
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED, workspace.settings.registry_url, str(scripts)],
        env=env,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not mark.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert mark.exists(), "the step started writing"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    root = Path(workspace.get_default_datastore().config["root"])
    visible = [p for p in root.rglob("*") if "slow_out" in str(p)]
    assert visible == [], f"a killed step left {visible}"


def test_datapath_parameter_is_chosen_per_run(workspace: Any, scripts: Path, tmp_path: Path) -> None:
    from airflow_mlw import Datastore
    from airflow_mlw.pipelines import DataPath, DataPathComputeBinding

    store = Datastore.register_local(workspace, "inputs_store", tmp_path / "inputs")
    for name, text in (("one", "first"), ("two", "second")):
        (tmp_path / "inputs" / name).mkdir(parents=True)
        (tmp_path / "inputs" / name / "value.txt").write_text(text)
    data_path = PipelineParameter(
        "input_path", default_value=DataPath(datastore=store, path_on_datastore="one")
    )
    out = PipelineData("copied")
    step = PythonScriptStep(
        "copy.py",
        name="copy",
        source_directory=str(scripts),
        arguments=["--inp", (data_path, DataPathComputeBinding(mode="mount")), "--out", out],
        outputs=[out],
    )
    pipeline = Pipeline(workspace, [step])
    assert pipeline.to_dag("mlw_datapath").params["input_path"] == {
        "DataStoreName": "inputs_store",
        "RelativePath": "one",
    }
    experiment = Experiment(workspace, "datapath")
    default_run = experiment.submit(pipeline)
    other_run = experiment.submit(pipeline, pipeline_parameters={"input_path": DataPath(store, "two")})
    texts = []
    for run in (default_run, other_run):
        (copied,) = run.find_step_run("copy")
        texts.append(
            (
                Path(copied.get_output_data("copied").download(str(tmp_path / run.id))) / "value.txt"
            ).read_text()
        )
    assert texts == ["first", "second"]
    assert not other_run.find_step_run("copy")[0].is_reused, "another data path is another input"


def test_command_step_runs_a_shell_command_in_the_snapshot(workspace: Any, scripts: Path) -> None:
    from airflow_mlw.pipelines import CommandStep

    step = CommandStep(
        "python copy.py --text hello && test -f copy.py", name="cmd", source_directory=str(scripts)
    )
    run = Experiment(workspace, "command").submit(Pipeline(workspace, [step]))
    (cmd,) = run.find_step_run("cmd")
    assert cmd.get_status() == "Finished" and cmd.get_metrics() == {"length": 5}


def test_command_step_takes_a_script_run_config_as_azure_does(workspace: Any, scripts: Path) -> None:
    """``CommandStep(runconfig=ScriptRunConfig(command=[...]))``: command, source and target come
    from the config; a list command is an argument list."""
    from airflow_mlw.core import ScriptRunConfig
    from airflow_mlw.pipelines import CommandStep

    src = ScriptRunConfig(
        str(scripts), command=["python", "copy.py", "--text", "hi there"], compute_target="local"
    )
    step = CommandStep(name="from_src", runconfig=src)
    assert (step.source_directory, step.compute_target) == (str(scripts), "local")
    run = Experiment(workspace, "command_src").submit(Pipeline(workspace, [step]))
    (cmd,) = run.find_step_run("from_src")
    assert cmd.get_status() == "Finished" and cmd.get_metrics() == {"length": 8}


def test_docker_target_named_by_string_is_not_silently_run_locally(workspace: Any, scripts: Path) -> None:
    from airflow_mlw.core.compute import ComputeTarget, DockerCompute

    ComputeTarget.create(workspace, "docker_by_name", DockerCompute.provisioning_configuration())
    step = PythonScriptStep(
        "copy.py", name="named", source_directory=str(scripts), compute_target="docker_by_name"
    )
    dag_run = run_dag(Pipeline(workspace, [step]).to_dag("mlw_named_target"))
    assert task_states(dag_run) == {"named": "failed"}


def test_as_task_group_wires_producers_inside_the_group(
    workspace: Any, scripts: Path, tmp_path: Path
) -> None:
    from airflow.sdk import DAG

    first, second, _ = chain(scripts)
    with DAG("mlw_task_group", schedule=None) as dag:
        Pipeline(workspace, [first, second]).as_task_group("training")
    assert {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks} == {
        "training.first": [],
        "training.second": ["training.first"],
    }
    dag_run = run_dag(dag)
    assert task_states(dag_run) == {"training.first": "success", "training.second": "success"}
