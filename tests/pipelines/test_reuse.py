"""Reuse is never stale: each case is a real pipeline run twice (Airflow dag.test, real registry)."""

from __future__ import annotations

import shutil
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw import Datastore
from airflow_mlw.core import Dataset, Experiment
from airflow_mlw.pipelines import Pipeline, PipelineData, PythonScriptStep

PREP = "import argparse, os, helper\np = argparse.ArgumentParser(); p.add_argument('--out'); a = p.parse_args()\nos.makedirs(a.out, exist_ok=True)\nopen(os.path.join(a.out, 'data.txt'), 'w').write(helper.VALUE)\n"
TRAIN = (
    "import argparse, os\nfrom airflow_mlw.core import Run\np = argparse.ArgumentParser(); p.add_argument('--inp'); p.add_argument('--out'); p.add_argument('--alpha')\n"
    "a = p.parse_args()\nos.makedirs(a.out, exist_ok=True)\ntext = open(os.path.join(a.inp, 'data.txt')).read() + a.alpha\n"
    "open(os.path.join(a.out, 'model.txt'), 'w').write(text)\nRun.get_context().log('alpha', float(a.alpha))\n"
)
CONSUME = "from airflow_mlw.core import Run\nimport os\nrun = Run.get_context()\nrun.log('exists', os.path.exists(run.input_datasets['raw'].path))\n"


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    folder = tmp_path / "scripts"
    for sub in ("prep", "train", "consume"):
        (folder / sub).mkdir(parents=True)
    (folder / "prep" / "prep.py").write_text(PREP)
    (folder / "prep" / "helper.py").write_text("VALUE = 'x'\n")
    (folder / "prep" / "notes.txt").write_text("ignored by .amlignore\n")
    (folder / "prep" / ".amlignore").write_text("notes.txt\n*.log\n")
    (folder / "train" / "train.py").write_text(TRAIN)
    (folder / "consume" / "consume.py").write_text(CONSUME)
    return folder


def build(
    ws: Any,
    scripts: Path,
    alpha: str = "0.1",
    out_name: str = "prepped",
    allow_reuse: bool = True,
    dataset: Any = None,
    compute: Any = None,
) -> Pipeline:
    prepped = PipelineData(out_name)
    prep = PythonScriptStep(
        "prep.py",
        name="prep",
        source_directory=str(scripts / "prep"),
        arguments=["--out", prepped],
        outputs=[prepped],
        allow_reuse=allow_reuse,
        compute_target=compute,
    )
    result = PipelineData("result")
    train = PythonScriptStep(
        "train.py",
        name="train",
        source_directory=str(scripts / "train"),
        arguments=["--inp", prepped, "--out", result, "--alpha", alpha],
        inputs=[prepped],
        outputs=[result],
    )
    steps = [prep, train]
    if dataset is not None:
        steps.append(
            PythonScriptStep(
                "consume.py",
                name="consume",
                source_directory=str(scripts / "consume"),
                inputs=[dataset.as_named_input("raw")],
            )
        )
    return Pipeline(ws, steps)


def reused(run: Any) -> dict[str, bool]:
    return {step.name: step.is_reused for step in run.get_steps()}


def submit(ws: Any, pipeline: Pipeline, **kwargs: Any) -> Any:
    run = Experiment(ws, "reuse").submit(pipeline, **kwargs)
    run.wait_for_completion(show_output=False)
    return run


def test_unchanged_rerun_reuses_every_step_and_hands_over_outputs(workspace: Any, scripts: Path) -> None:
    first = submit(workspace, build(workspace, scripts))
    second = submit(workspace, build(workspace, scripts))
    assert reused(first) == {"prep": False, "train": False}
    assert reused(second) == {"prep": True, "train": True}
    (prep1,), (prep2,) = first.find_step_run("prep"), second.find_step_run("prep")
    assert prep2.reused_from == prep1.id
    assert (
        prep2.get_output_data("prepped").path_on_datastore
        == prep1.get_output_data("prepped").path_on_datastore
    )
    (train2,) = second.find_step_run("train")
    assert train2.get_status() == "Finished"
    assert train2.get_metrics() == {"alpha": 0.1}, "a reused step reports its origin's metrics"


def test_helper_byte_change_misses_and_identical_output_lets_downstream_hit(
    workspace: Any, scripts: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    submit(workspace, build(workspace, scripts))
    (scripts / "prep" / "helper.py").write_text("VALUE = 'x'\n# a comment changes bytes, not output\n")
    capfd.readouterr()
    run = submit(workspace, build(workspace, scripts))
    assert reused(run) == {"prep": False, "train": True}
    logged = "".join(capfd.readouterr())
    assert "source file helper.py changed" in logged


def test_ignored_file_edit_hits(workspace: Any, scripts: Path) -> None:
    submit(workspace, build(workspace, scripts))
    (scripts / "prep" / "notes.txt").write_text("edited, but listed in .amlignore\n")
    (scripts / "prep" / "debug.log").write_text("new ignored file\n")
    assert reused(submit(workspace, build(workspace, scripts))) == {"prep": True, "train": True}


def test_argument_change_and_output_rename_miss(
    workspace: Any, scripts: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    submit(workspace, build(workspace, scripts))
    capfd.readouterr()
    assert reused(submit(workspace, build(workspace, scripts, alpha="0.2"))) == {"prep": True, "train": False}
    assert "argument 0.1 -> 0.2" in "".join(capfd.readouterr())
    assert reused(submit(workspace, build(workspace, scripts, out_name="renamed"))) == {
        "prep": False,
        "train": False,
    }


def test_new_dataset_version_misses_for_its_consumer_only(
    workspace: Any, scripts: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    store = Datastore.register_local(workspace, "landing", tmp_path / "landing")
    (tmp_path / "landing" / "raw").mkdir(parents=True)
    (tmp_path / "landing" / "raw" / "a.csv").write_text("a\n1\n")
    Dataset.File.from_files((store, "raw")).register(workspace, "raw")
    submit(workspace, build(workspace, scripts, dataset=Dataset.get_by_name(workspace, "raw")))
    (tmp_path / "landing" / "raw" / "a.csv").write_text("a\n2\n")  # one byte
    Dataset.File.from_files((store, "raw")).register(workspace, "raw", create_new_version=True)
    capfd.readouterr()
    run = submit(workspace, build(workspace, scripts, dataset=Dataset.get_by_name(workspace, "raw")))
    assert reused(run) == {"prep": True, "train": True, "consume": False}
    assert "input raw: dataset raw v1 -> raw v2" in "".join(capfd.readouterr())


def test_allow_reuse_false_always_runs_and_regenerate_runs_everything(workspace: Any, scripts: Path) -> None:
    submit(workspace, build(workspace, scripts, allow_reuse=False))
    assert reused(submit(workspace, build(workspace, scripts, allow_reuse=False))) == {
        "prep": False,
        "train": True,
    }
    assert reused(submit(workspace, build(workspace, scripts), regenerate_outputs=True)) == {
        "prep": False,
        "train": False,
    }
    assert reused(submit(workspace, build(workspace, scripts))) == {"prep": True, "train": True}, (
        "a regenerated run is reusable later"
    )


def test_deleted_output_runs_again(workspace: Any, scripts: Path) -> None:
    first = submit(workspace, build(workspace, scripts))
    (prep,) = first.find_step_run("prep")
    reference = prep.get_output_data("prepped")
    root = Path(workspace.get_default_datastore().config["root"])
    shutil.rmtree(root / reference.path_on_datastore)
    assert reused(submit(workspace, build(workspace, scripts))) == {"prep": False, "train": True}


def test_compute_target_is_not_part_of_the_key(
    workspace: Any, scripts: Path, docker_engine: Any, base_image: str
) -> None:
    from airflow_mlw.core.compute import ComputeTarget, DockerCompute

    submit(workspace, build(workspace, scripts))
    docker = ComputeTarget.create(workspace, "elsewhere", DockerCompute.provisioning_configuration())
    assert reused(submit(workspace, build(workspace, scripts, compute=docker))) == {
        "prep": True,
        "train": True,
    }


def test_single_flight_lease(workspace: Any) -> None:
    from datetime import datetime, timedelta

    from airflow_mlw.execution import reuse
    from airflow_mlw.registry.rows import ReuseLeaseRow

    assert reuse.acquire_lease(workspace, "k" * 64, "run-a")
    assert not reuse.acquire_lease(workspace, "k" * 64, "run-b"), "a live holder keeps the key"
    with workspace.store.session(write=True) as session:
        lease = session.get(ReuseLeaseRow, (workspace._workspace_id(), "k" * 64))
        lease.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    assert reuse.acquire_lease(workspace, "k" * 64, "run-b"), "a crashed holder's lease expires"
    reuse.release_lease(workspace, "k" * 64, "run-b")
    assert reuse.acquire_lease(workspace, "k" * 64, "run-c")


def test_cache_cli_lists_explains_and_clears(workspace: Any, scripts: Path) -> None:
    import json
    import subprocess
    import sys

    submit(workspace, build(workspace, scripts))
    submit(workspace, build(workspace, scripts, alpha="0.3"))
    mlw = [
        str(Path(sys.executable).with_name("mlw")),
        "--json",
        "--registry-url",
        workspace.settings.registry_url,
        "--workspace",
        workspace.name,
        "cache",
    ]

    def run(*args: str) -> Any:
        out = subprocess.run([*mlw, *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    assert {row["step"] for row in run("list")} == {"prep", "train"}
    assert run("explain", "train")["changes"] == ["argument 0.1 -> 0.3"]
    explained = run("explain", "prep")
    assert explained["changes"] == ["reused: same key"]
    assert (explained["decided_by"], bool(explained["reused_from"])) == ("planning task", True)
    assert run("clear")["cleared"] >= 4
    assert reused(submit(workspace, build(workspace, scripts))) == {"prep": False, "train": False}
