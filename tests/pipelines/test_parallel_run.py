"""ParallelRunStep on local compute, run for real through Airflow's dag.test(): mini-batches of
File and Tabular datasets, append_row order, summary_only, partitions, retries and thresholds,
a hung run() killed, reuse, and the errors of bad configurations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Dataset, Datastore, Experiment, Model, Workspace
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipeline.core import Pipeline
from airflow_mlw.pipeline.steps import ParallelRunConfig, ParallelRunStep
from airflow_mlw.pipelines import OutputFileDatasetConfig

SCORE = """
import os, time
from airflow_mlw.core import Model
from airflow_mlw_user.parallel_run import EntryScript

def init():
    global factor, worker
    factor = int(open(Model.get_model_path("factor")).read())
    worker = os.getpid()

def run(mini_batch):
    EntryScript().logger.info("batch of %d", len(mini_batch))
    out = []
    for path in mini_batch:
        text = open(path).read()
        if "bad" in text:
            raise ValueError("bad item " + os.path.basename(path))
        if "hang" in text:
            time.sleep(60)
        out.append(f"{os.path.basename(path)}: {int(text) * factor}")
    return out
"""

TABLE = """
from azureml_user.parallel_run import EntryScript

def run(mini_batch):
    mini_batch["double"] = mini_batch["v"] * 2
    return mini_batch[["v", "double"]]
"""

PARTS = """
import os
from airflow_mlw_user.parallel_run import EntryScript

def run(mini_batch):
    depts = {os.path.basename(os.path.dirname(p)) for p in mini_batch}
    (dept,) = depts
    with open(os.path.join(EntryScript().output_dir, dept + ".txt"), "w") as handle:
        handle.write(str(len(mini_batch)))
    return []
"""


@pytest.fixture
def setup(workspace: Workspace, tmp_path: Path) -> dict[str, Any]:
    root = tmp_path / "data"
    (root / "items").mkdir(parents=True)
    for i in range(23):
        (root / "items" / f"{i:03d}.txt").write_text(str(i))
    (root / "table.csv").write_text("v\n" + "".join(f"{i}\n" for i in range(1000)))
    for dept, count in (("HR", 3), ("IT", 4)):
        (root / "depts" / dept).mkdir(parents=True)
        for i in range(count):
            (root / "depts" / dept / f"{i}.txt").write_text("1")
    store = Datastore.register_local(workspace, "batch_store", root)
    (tmp_path / "factor.txt").write_text("10")
    Model.register(workspace, str(tmp_path / "factor.txt"), "factor")
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    for name, code in (("score.py", SCORE), ("table.py", TABLE), ("parts.py", PARTS)):
        (scripts / name).write_text(code)
    (scripts / "norun.py").write_text("def init():\n    pass\n")
    return {"store": store, "scripts": scripts, "root": root}


def config(setup: dict[str, Any], script: str = "score.py", **changes: Any) -> ParallelRunConfig:
    values: dict[str, Any] = {
        "source_directory": str(setup["scripts"]),
        "entry_script": script,
        "mini_batch_size": "5",
        "error_threshold": 0,
        "output_action": "append_row",
        "environment": None,
        "compute_target": "local",
        "process_count_per_node": 2,
        "run_max_try": 1,
    }
    values.update(changes)
    from airflow_mlw.core import Environment

    values["environment"] = values["environment"] or Environment("default")
    return ParallelRunConfig(**values)


def submit(workspace: Workspace, step: ParallelRunStep) -> Any:
    run = Experiment(workspace, "batch").submit(Pipeline(workspace, [step]))
    (step_run,) = run.find_step_run(step.name)
    return run, step_run


def output_lines(step_run: Any, name: str, tmp_path: Path, file: str = "parallel_run_step.txt") -> list[str]:
    folder = Path(step_run.get_output_data(name).download(str(tmp_path / f"out-{step_run.id}")))
    return (next(folder.rglob(file))).read_text().splitlines()


def run_page(workspace: Workspace, run_id: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The ML Workspace UI's run page over the test's registry (Airflow's auth is tested in
    tests/test_ui.py)."""
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_mlw.plugins.ui import router

    monkeypatch.setenv("AIRFLOW__MLW__REGISTRY_URL", workspace.settings.registry_url)
    monkeypatch.setenv("AIRFLOW__MLW__WORKSPACE_NAME", workspace.name)
    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_user] = lambda: None
    response = TestClient(app).get(f"/ui/runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.text


def file_input(setup: dict[str, Any], folder: str = "items") -> Any:
    return Dataset.File.from_files((setup["store"], folder)).as_named_input("items")


def test_file_batches_append_rows_in_input_order_and_reuse(
    workspace: Workspace, setup: dict[str, Any], tmp_path: Path
) -> None:
    step = ParallelRunStep(
        "score",
        config(setup),
        inputs=[file_input(setup)],
        output=OutputFileDatasetConfig("inferences"),
    )
    run, step_run = submit(workspace, step)
    assert run.get_status() == "Finished", step_run.get_details_with_logs()
    lines = output_lines(step_run, "inferences", tmp_path)
    assert lines == [f"{i:03d}.txt: {i * 10}" for i in range(23)]
    assert step_run.get_metrics() == {
        "mini_batches": 5,
        "failed_mini_batches": 0,
        "items": 23,
        "failed_items": 0,
        "reused_mini_batches": 0,
    }
    _, again = submit(workspace, step)
    assert again.is_reused, "unchanged input, script and configuration: the whole step is reused"


def test_tabular_batches_split_by_size(workspace: Workspace, setup: dict[str, Any], tmp_path: Path) -> None:
    table = Dataset.Tabular.from_delimited_files((setup["store"], "table.csv")).as_named_input("items")
    step = ParallelRunStep(
        "table",
        config(setup, "table.py", mini_batch_size="1KB"),
        inputs=[table],
        output=OutputFileDatasetConfig("rows"),
    )
    run, step_run = submit(workspace, step)
    assert run.get_status() == "Finished", step_run.get_details_with_logs()
    assert output_lines(step_run, "rows", tmp_path) == [f"{i} {i * 2}" for i in range(1000)]
    assert step_run.get_metrics()["mini_batches"] == 8  # 8 bytes a row: 128 rows of 1 KB


def test_partition_keys_make_one_batch_per_partition_with_summary_only(
    workspace: Workspace, setup: dict[str, Any], tmp_path: Path
) -> None:
    parted = Dataset.File.from_files((setup["store"], "depts"), partition_format="/{Dept}/*.txt")
    step = ParallelRunStep(
        "parts",
        config(
            setup, "parts.py", mini_batch_size=None, output_action="summary_only", partition_keys=["Dept"]
        ),
        inputs=[parted.as_named_input("items")],
        output=OutputFileDatasetConfig("counts"),
    )
    run, step_run = submit(workspace, step)
    assert run.get_status() == "Finished", step_run.get_details_with_logs()
    folder = Path(step_run.get_output_data("counts").download(str(tmp_path / "counts")))
    assert {p.name: p.read_text() for p in folder.rglob("*.txt")} == {"HR.txt": "3", "IT.txt": "4"}
    assert step_run.get_metrics()["mini_batches"] == 2


def test_failures_retries_and_thresholds(workspace: Workspace, setup: dict[str, Any], tmp_path: Path) -> None:
    (setup["root"] / "items" / "004.txt").write_text("bad")
    (setup["root"] / "items" / "017.txt").write_text("bad")
    tolerant = ParallelRunStep(
        "tolerant",
        config(setup, error_threshold=-1, run_max_try=2, output_action="summary_only"),
        inputs=[file_input(setup)],
    )
    run, step_run = submit(workspace, tolerant)
    assert run.get_status() == "Finished", step_run.get_details_with_logs()
    assert step_run.get_metrics() == {
        "mini_batches": 5,
        "failed_mini_batches": 2,
        "items": 23,
        "failed_items": 10,
        "reused_mini_batches": 0,
    }
    strict = ParallelRunStep("strict", config(setup, error_threshold=5), inputs=[file_input(setup)])
    run, step_run = submit(workspace, strict)
    assert run.get_status() == "Failed"
    logs = str(step_run.get_details_with_logs())
    assert "10 failed item(s) exceed error_threshold=5" in logs and "bad item 0" in logs, logs


def test_a_hung_run_is_killed_after_the_timeout(workspace: Workspace, setup: dict[str, Any]) -> None:
    (setup["root"] / "items" / "002.txt").write_text("hang")
    step = ParallelRunStep(
        "hung",
        config(setup, run_invocation_timeout=2, error_threshold=-1, output_action="summary_only"),
        inputs=[file_input(setup)],
    )
    run, step_run = submit(workspace, step)
    assert run.get_status() == "Finished"
    assert step_run.get_metrics()["failed_items"] == 5
    assert "run() timed out after 2 s" in str(step_run.get_details_with_logs())


def test_bad_configurations_are_named(workspace: Workspace, setup: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(MlwError, match="a File dataset is split into a number of files"):
        ParallelRunStep("x", config(setup, mini_batch_size="1MB"), inputs=[file_input(setup)])
    table = Dataset.Tabular.from_delimited_files((setup["store"], "table.csv")).as_named_input("t")
    with pytest.raises(MlwError, match="a Tabular dataset is split by size"):
        ParallelRunStep("x", config(setup, mini_batch_size="many"), inputs=[table])
    with pytest.raises(MlwError, match="output_action must be one of"):
        config(setup, output_action="append_rows")
    norun = ParallelRunStep("norun", config(setup, "norun.py"), inputs=[file_input(setup)])
    run, step_run = submit(workspace, norun)
    assert run.get_status() == "Failed"
    assert "defines no run(mini_batch) function" in str(step_run.get_details_with_logs())
    (setup["scripts"] / "short.py").write_text("def run(mini_batch):\n    return mini_batch[:1]\n")
    short = ParallelRunStep("short", config(setup, "short.py"), inputs=[file_input(setup)])
    run, step_run = submit(workspace, short)
    assert "run() returned 1 rows for mini-batch" in str(step_run.get_details_with_logs())


TRACED = """
import argparse, os
assert os.environ["SCORING_MODE"] == "fast", "ParallelRunConfig.environment_variables reach run()"
parser = argparse.ArgumentParser()
parser.add_argument("--trace")
parser.add_argument("--offsets")
args, _ = parser.parse_known_args()

def init():
    global offset
    offset = int(open(os.path.join(args.offsets, "offset.txt")).read())

def run(mini_batch):
    with open(os.path.join(args.trace, f"{os.getpid()}-{os.path.basename(mini_batch[0])}"), "w"):
        pass
    return [f"{os.path.basename(p)}: {int(open(p).read()) + offset}" for p in mini_batch]
"""


def test_two_shards_side_inputs_and_per_batch_reuse_after_one_file_changed(
    workspace: Workspace, setup: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """node_count=2: two mapped tasks share the mini-batches and the rows still come in input
    order; a side input is mounted and its path passed; after one input file changes only the
    mini-batch holding it runs again (per-batch keys), and the output is whole."""
    (setup["scripts"] / "traced.py").write_text(TRACED)
    (setup["root"] / "side").mkdir()
    (setup["root"] / "side" / "offset.txt").write_text("1000")
    side = Dataset.File.from_files((setup["store"], "side")).as_named_input("offsets").as_mount()
    trace = tmp_path / "trace"
    trace.mkdir()
    step = ParallelRunStep(
        "traced",
        config(
            setup,
            "traced.py",
            node_count=2,
            process_count_per_node=1,
            environment_variables={"SCORING_MODE": "fast"},
        ),
        inputs=[file_input(setup)],
        side_inputs=[side],
        output=OutputFileDatasetConfig("scored"),
        arguments=["--trace", str(trace), "--offsets", side],
    )
    run, step_run = submit(workspace, step)
    assert run.get_status() == "Finished", step_run.get_details_with_logs()
    assert output_lines(step_run, "scored", tmp_path) == [f"{i:03d}.txt: {i + 1000}" for i in range(23)]
    shards = step_run.get_children()
    assert sorted(child.get_metrics()["mini_batches"] for child in shards) == [2, 3]
    assert len({name.split("-")[0] for name in (p.name for p in trace.iterdir())}) == 2, "two processes"
    assert sorted(p.name.split("-", 1)[1] for p in trace.iterdir()) == [
        f"{i:03d}.txt" for i in range(0, 23, 5)
    ]
    page = run_page(workspace, step_run.id, monkeypatch)
    assert "Mini-batches" in page and "5 done, 0 failed, of 5." in page, page
    assert all(child.id[:12] in page for child in shards), "each mapped task with its counts"

    for stale in trace.iterdir():
        stale.unlink()
    (setup["root"] / "items" / "007.txt").write_text("70")
    run, step_run = submit(workspace, step)
    assert run.get_status() == "Finished", step_run.get_details_with_logs()
    assert not step_run.is_reused
    assert [p.name.split("-", 1)[1] for p in trace.iterdir()] == ["005.txt"], "only the changed batch ran"
    assert step_run.get_metrics()["reused_mini_batches"] == 4
    expected = [f"{i:03d}.txt: {(70 if i == 7 else i) + 1000}" for i in range(23)]
    assert output_lines(step_run, "scored", tmp_path) == expected


def test_in_docker_with_a_registered_model(
    workspace: Workspace, setup: dict[str, Any], tmp_path: Path, docker_engine: Any, base_image: str
) -> None:
    """The driver and the entry script in the environment's image on Docker compute: the input is
    downloaded into the container, the registered model copied there for ``get_model_path``, and
    the committed batches come back through the mounted store."""
    from airflow_mlw.core import Environment
    from airflow_mlw.core.compute import ComputeTarget, DockerCompute

    ComputeTarget.create(workspace, "docker", DockerCompute.provisioning_configuration())
    environment = Environment("batch-docker")
    environment.docker.enabled = True
    step = ParallelRunStep(
        "in_docker",
        config(setup, environment=environment, compute_target="docker", node_count=2),
        inputs=[file_input(setup)],
        output=OutputFileDatasetConfig("inferences"),
    )
    run, step_run = submit(workspace, step)
    assert run.get_status() == "Finished", step_run.get_details_with_logs()
    assert output_lines(step_run, "inferences", tmp_path) == [f"{i:03d}.txt: {i * 10}" for i in range(23)]
    assert {child.get_details()["target"] for child in step_run.get_children()} == {"docker"}
