"""Schedules in DAG code and at run time: parse-time behaviour, and end to end on a real Airflow
(api-server, scheduler, dag-processor, triggerer) whose services share the test's ``[mlw]`` settings.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.data.datapath import DataPath
from airflow_mlw.datasets import dataset_asset
from airflow_mlw.pipeline.core import Pipeline, PipelineParameter, Schedule, ScheduleRecurrence
from airflow_mlw.pipeline.steps import PythonScriptStep
from airflow_mlw.pipelines.graph import PipelineValidationError
from tests.airflow_stack import AirflowStack, airflow_stack
from tests.services import wait_until

NEXT_RUN_LINE = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")
RECORD_SCRIPT = """
import json, sys, time
from pathlib import Path

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
value = Path(sys.argv[2])
files = sorted(p.relative_to(value).as_posix() for p in value.rglob("*") if p.is_file()) if value.is_dir() else []
(out / f"{time.time_ns()}.json").write_text(json.dumps({"value": sys.argv[2], "files": files}))
"""

DAG_FILE = """
from datetime import timedelta

from airflow_mlw.core import Datastore, Workspace
from airflow_mlw.dags.schedule_runner import schedule_runner_dag
from airflow_mlw.data.datapath import DataPath, DataPathComputeBinding
from airflow_mlw.pipeline.core import Pipeline, PipelineParameter, Schedule, ScheduleRecurrence
from airflow_mlw.pipeline.steps import PythonScriptStep

ws = Workspace.from_config()
files = Datastore(ws, "files")


def record(name, value):
    step = PythonScriptStep(
        "record.py", name=name, source_directory={source!r}, arguments=[{results!r} + "/" + name, value],
        allow_reuse=False,
    )
    return Pipeline(ws, [step])


daily = record("daily", "-").to_dag(
    "e2e_daily", schedule=ScheduleRecurrence("Day", 1, hours=[6], minutes=[30])
)
incoming = PipelineParameter("incoming", default_value=DataPath(files, "in"))
on_files = record("on_files", (incoming, DataPathComputeBinding())).to_dag(
    "e2e_on_files",
    schedule=Schedule(
        datastore=files,
        path_on_datastore="in",
        polling_interval={poll_minutes!r},
        data_path_parameter_name="incoming",
        recursive=True,
    ),
)
target = record("target", PipelineParameter("greeting", default_value="hello")).to_dag("e2e_target")
runner = schedule_runner_dag("e2e_schedule_runner", interval=timedelta(seconds=5))
"""


# -- DAG code: no I/O at parse time ------------------------------------------------------------------


def one_step_pipeline(workspace: Any, tmp_path: Path) -> Pipeline:
    (tmp_path / "s.py").write_text("print(1)\n")
    return Pipeline(workspace, [PythonScriptStep("s.py", name="s", source_directory=str(tmp_path))])


def test_dag_code_schedules_do_no_io(tmp_path: Path) -> None:
    from airflow_mlw.core import Datastore, Workspace
    from airflow_mlw.dags.schedule_runner import schedule_runner_dag
    from airflow_mlw.triggers.datastore import DatastoreChangeTrigger

    registry = tmp_path / "nowhere" / "registry.db"
    ws = Workspace(workspace_name="w", registry_url=f"sqlite:///{registry}")
    (tmp_path / "s.py").write_text("print(1)\n")
    where = PipelineParameter("p", default_value=DataPath(Datastore(ws, "files"), "in"))
    step = PythonScriptStep("s.py", name="s", source_directory=str(tmp_path), arguments=[where])
    pipeline = Pipeline(ws, [step])
    on_files = Schedule(
        datastore=Datastore(ws, "files"),
        path_on_datastore="/in/",
        polling_interval=5,
        data_path_parameter_name="p",
    )
    dag = pipeline.to_dag("on_files", schedule=on_files)
    asset = dag.timetable.asset_condition
    assert asset.uri == "mlw-datastore://w/files/in"
    [watcher] = asset.watchers
    assert isinstance(watcher.trigger, DatastoreChangeTrigger)
    assert (watcher.trigger.path, watcher.trigger.poll_interval) == ("in", 300.0)

    either = pipeline.to_dag(
        "either", schedule=dataset_asset("csv_table", ws) | ScheduleRecurrence("Hour", 3)
    )
    assert type(either.timetable).__name__ == "AssetOrTimeSchedule"
    assert either.timetable.timetable.delta == timedelta(hours=3)
    assert either.timetable.asset_condition.uri == "mlw-dataset://w/csv_table"
    watched_or_daily = pipeline.to_dag("watched_or_daily", schedule=on_files | ScheduleRecurrence("Day", 1))
    misnamed = Schedule(datastore=Datastore(ws, "files"), data_path_parameter_name="nope")
    with pytest.raises(PipelineValidationError, match="'nope' is not a parameter of the pipeline"):
        pipeline.to_dag("misnamed", schedule=misnamed)
    assert type(watched_or_daily.timetable).__name__ == "AssetOrTimeSchedule"

    runner = schedule_runner_dag()
    assert runner.dag_id == "mlw_schedule_runner" and runner.timetable.delta == timedelta(minutes=1)
    assert sorted(runner.task_ids) == ["due_firings", "trigger_pipeline_runs"]
    assert not registry.parent.exists()  # nothing opened the registry


def test_recorded_schedule_goes_to_to_dag(workspace: Any, tmp_path: Path) -> None:
    from tests.pipelines.published import publish_pipeline

    pipeline = one_step_pipeline(workspace, tmp_path)
    published = publish_pipeline(workspace, tmp_path)
    weekly = ScheduleRecurrence("Week", 1, week_days=["Monday"], time_of_day="07:45")
    recorded = Schedule.create(workspace, "weekly", published.id, "exp", recurrence=weekly)
    dag = pipeline.to_dag("weekly", schedule=Schedule.get(workspace, recorded.id))
    assert dag.timetable.expression == "45 7 * * mon"


# -- end to end ---------------------------------------------------------------------------------------


class Deployment:
    """The stack plus what the test set up around it."""

    def __init__(self, stack: AirflowStack, workspace: Any, root: Path) -> None:
        self.stack, self.workspace, self.root = stack, workspace, root
        self.store = root / "store"
        self.results = root / "results"
        self.mlw_home = root / "mlw"

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        """DAG runs as the metadata DB has them (read-only)."""
        with sqlite3.connect(f"file:{self.stack.home / 'airflow.db'}?mode=ro", uri=True, timeout=30) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT run_id, state, run_type FROM dag_run WHERE dag_id = ? ORDER BY id", (dag_id,)
            )
            return [dict(row) for row in rows]

    def wait_for_runs(self, dag_id: str, count: int, timeout: float = 240) -> list[dict[str, Any]]:
        def finished() -> bool:
            runs = self.runs(dag_id)
            return len(runs) >= count and all(run["state"] in ("success", "failed") for run in runs)

        wait_until(
            finished, timeout, f"{count} finished run(s) of {dag_id}", self.stack.home / "scheduler.log"
        )
        return self.runs(dag_id)

    def records(self, step: str) -> list[dict[str, Any]]:
        return [json.loads(p.read_text()) for p in sorted((self.results / step).glob("*.json"))]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    from airflow_mlw.core import Datastore, Workspace

    root = tmp_path_factory.mktemp("schedules-e2e")
    (root / "src").mkdir()
    (root / "src" / "record.py").write_text(RECORD_SCRIPT)
    (root / "dags").mkdir()
    (root / "store" / "in").mkdir(parents=True)
    (root / "store" / "in" / "present.csv").write_text("present before the watcher started\n")
    registry_url = f"sqlite:///{root / 'registry.db'}"
    workspace = Workspace.create("e2e", registry_url=registry_url)
    Datastore.register_local(workspace, "files", root / "store")
    (root / "dags" / "schedules.py").write_text(
        DAG_FILE.format(source=str(root / "src"), results=str(root / "results"), poll_minutes=0.05)
    )
    env = {
        "AIRFLOW__MLW__HOME": str(root / "mlw"),
        "AIRFLOW__MLW__REGISTRY_URL": registry_url,
        "AIRFLOW__MLW__WORKSPACE_NAME": "e2e",
    }
    services = ("api-server", "scheduler", "dag-processor", "triggerer")
    with airflow_stack(root / "dags", extra_env=env, services=services) as stack:
        stack.wait_for_dags(["e2e_daily", "e2e_on_files", "e2e_target", "e2e_schedule_runner"])
        yield Deployment(stack, workspace, root)


def test_recurrence_dag_shows_its_next_run_times(deployment: Deployment) -> None:
    out = deployment.stack.airflow("dags", "next-execution", "e2e_daily", "--num-executions", "3")
    assert out.returncode == 0, out.stderr[-500:]
    times = [datetime.fromisoformat(line) for line in out.stdout.split("\n") if NEXT_RUN_LINE.fullmatch(line)]
    assert len(times) == 3
    assert all((t.hour, t.minute) == (6, 30) for t in times)
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [timedelta(days=1)] * 2
    assert deployment.runs("e2e_daily") == []


def test_datastore_change_runs_the_pipeline_once_per_batch(deployment: Deployment, tmp_path: Path) -> None:
    from airflow_mlw.core import Datastore

    # The triggerer took its baseline (present.csv is in it and never fires).
    watchers = deployment.mlw_home / "cache" / "watchers"
    wait_until(
        lambda: any(watchers.glob("*.json")),
        120,
        "the watcher's baseline",
        deployment.stack.home / "triggerer.log",
    )
    (tmp_path / "first.csv").write_text("a,b\n1,2\n")
    Datastore(deployment.workspace, "files").upload_files(
        [tmp_path / "first.csv"], target_path="in", show_progress=False
    )
    [first] = deployment.wait_for_runs("e2e_on_files", 1)
    assert first["state"] == "success" and first["run_type"] == "asset_triggered"
    [record] = deployment.records("on_files")
    assert Path(record["value"]) == deployment.store / "in" / "first.csv"

    # Three files appear at once (a folder renamed into the watched path): one run for the batch.
    batch = tmp_path / "batch"
    batch.mkdir()
    for name in ("x.csv", "y.csv", "z.csv"):
        (batch / name).write_text(name)
    batch.rename(deployment.store / "in" / "batch")
    runs = deployment.wait_for_runs("e2e_on_files", 2)
    assert [run["state"] for run in runs] == ["success", "success"]
    time.sleep(10)  # several more polling windows (3 s each): nothing else fires
    assert len(deployment.runs("e2e_on_files")) == 2
    second = deployment.records("on_files")[1]
    assert Path(second["value"]) == deployment.store / "in" / "batch"
    assert second["files"] == ["x.csv", "y.csv", "z.csv"]


def test_runner_fires_a_created_schedule_once(deployment: Deployment, tmp_path: Path) -> None:
    from airflow_mlw.registry.rows import ScheduleFiringRow

    ws = deployment.workspace
    (tmp_path / "record.py").write_text(RECORD_SCRIPT)
    greeting = PipelineParameter("greeting", default_value="hello")
    step = PythonScriptStep(
        "record.py", name="target", source_directory=str(tmp_path), arguments=["out", greeting]
    )
    published = Pipeline(ws, [step]).publish("target", dag_id="e2e_target")
    schedule = Schedule.create(
        ws,
        "hourly",
        published.id,
        "e2e",
        recurrence=ScheduleRecurrence("Hour", 1),
        pipeline_parameters={"greeting": "scheduled"},
    )
    [run] = deployment.wait_for_runs("e2e_target", 1)
    assert run["state"] == "success" and run["run_id"].startswith(f"mlw_schedule__{schedule.id}__")
    assert [r["value"] for r in deployment.records("target")] == ["scheduled"]
    # Several more runner ticks (every 5 s) go by: the due time is not fired again.
    ticks = len(deployment.runs("e2e_schedule_runner"))
    deployment.wait_for_runs("e2e_schedule_runner", ticks + 2, timeout=120)
    assert [r["run_id"] for r in deployment.runs("e2e_target")] == [run["run_id"]]
    with ws.store.session() as session:
        firings = session.query(ScheduleFiringRow).filter_by(schedule_id=schedule.id).all()
        assert [f.dag_run_id for f in firings] == [run["run_id"]]
