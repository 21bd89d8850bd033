"""Reuse decided ahead by the pipeline's planning task, in-process (dag.test, real metadata DB and
registry): hit steps are skipped without running, with their outputs handed over and their links."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlw.core import Experiment
from tests.pipelines.test_reuse import build, reused, scripts  # noqa: F401


def task_instances(run: Any) -> dict[str, Any]:
    """task id -> (state, pid) of the DAG run behind a pipeline run."""
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    dag_run_id = run._row().dag_run_id
    with create_session() as session:
        row = run._row()
        rows = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == row.dag_id, TaskInstance.run_id == dag_run_id)
            .all()
        )
        return {ti.task_id: (str(ti.state), ti.pid) for ti in rows}


def xcom(run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter(
                XComModel.run_id == run._row().dag_run_id, XComModel.task_id == task_id, XComModel.key == key
            )
            .one_or_none()
        )
        return None if row is None else row.value


def api_server_link(run: Any, task_id: str, name: str = "ML run") -> str | None:
    """The link Airflow's UI shows for a task instance, computed as the api-server does (the DAG
    deserialized from the metadata DB with the plugins' links)."""
    from airflow.models import TaskInstance
    from airflow.models.serialized_dag import SerializedDagModel
    from airflow.utils.session import create_session

    row = run._row()
    with create_session() as session:
        dag = SerializedDagModel.get_dag(row.dag_id, session=session)
        ti = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == row.dag_id, TaskInstance.run_id == row.dag_run_id)
            .filter(TaskInstance.task_id == task_id)
            .one()
        )
        return dag.get_task(task_id).get_extra_links(ti, name)  # type: ignore[no-any-return]


def submit(ws: Any, pipeline: Any, **kwargs: Any) -> Any:
    run = Experiment(ws, "planned").submit(pipeline, **kwargs)
    run.wait_for_completion(show_output=False)
    return run


def test_planner_skips_a_reused_chain_and_hands_over_outputs_and_links(
    workspace: Any,
    scripts: Path,  # noqa: F811
    monkeypatch: Any,
) -> None:
    # The api-server computes the links on the configured workspace: this test's.
    monkeypatch.setenv("AIRFLOW__MLW__REGISTRY_URL", workspace.settings.registry_url)
    monkeypatch.setenv("AIRFLOW__MLW__WORKSPACE_NAME", workspace.name)
    first = submit(workspace, build(workspace, scripts))
    assert task_instances(first) == {
        "mlw_plan": ("success", task_instances(first)["mlw_plan"][1]),
        "prep": ("success", task_instances(first)["prep"][1]),
        "train": ("success", task_instances(first)["train"][1]),
    }
    second = submit(workspace, build(workspace, scripts))
    states = task_instances(second)
    assert {task: state for task, (state, _) in states.items()} == {
        "mlw_plan": "success",
        "prep": "skipped",
        "train": "skipped",
    }
    assert states["prep"][1] is None and states["train"][1] is None, "a reused step never ran on a worker"
    assert reused(second) == {"prep": True, "train": True}
    (prep1,), (prep2,) = first.find_step_run("prep"), second.find_step_run("prep")
    assert prep2.reused_from == prep1.id
    # The results of the whole run travel in the planner's one XCom (a request per step is too dear).
    handed = xcom(second, "mlw_plan")["results"]["prep"]
    assert xcom(second, "prep") is None
    assert handed["reused_from"] == prep1.id
    assert handed["outputs"]["prepped"]["path"] == prep1.get_output_data("prepped").path_on_datastore
    # The api-server computes every step's links (the plugin's): no worker pushes link XComs.
    assert xcom(first, "prep", "_link_MlwRunLink") is None
    assert "task-run?" in api_server_link(first, "prep"), "the UI links a step that ran to its run page"
    assert "task-run?" in api_server_link(second, "prep"), "the UI links a reused step to its run page"
    assert xcom(second, "mlw_plan")["reused"] == ["prep", "train"]
    # A genuinely skipped step has no run in the registry: the UI shows it no link.
    from types import SimpleNamespace

    from airflow_mlw.operators.links import api_server_links

    run_link = next(link for link in api_server_links() if link.name == "ML run")
    never_ran = SimpleNamespace(dag_id=second._row().dag_id, run_id=second._row().dag_run_id, task_id="other")
    assert run_link.get_link(None, ti_key=never_ran) == ""


def test_changed_step_runs_with_its_consumer_after_planned_hits(workspace: Any, scripts: Path) -> None:  # noqa: F811
    submit(workspace, build(workspace, scripts))
    changed = submit(workspace, build(workspace, scripts, alpha="0.2"))
    states = {task: state for task, (state, _) in task_instances(changed).items()}
    assert states == {"mlw_plan": "success", "prep": "skipped", "train": "success"}
    assert reused(changed) == {"prep": True, "train": False}
    (train,) = changed.find_step_run("train")
    assert train.get_metrics() == {"alpha": 0.2}, "the consumer of a planned hit read its handed-over output"


def test_planner_error_leaves_every_step_to_decide_in_task(
    workspace: Any,
    scripts: Path,  # noqa: F811
    monkeypatch: Any,
) -> None:
    import airflow_mlw.execution.planning as planning

    submit(workspace, build(workspace, scripts))

    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("registry unreachable while planning")

    monkeypatch.setattr(planning, "plan_hits", broken)  # a fault in the planner, not a stand-in
    run = submit(workspace, build(workspace, scripts))
    states = {task: state for task, (state, _) in task_instances(run).items()}
    assert states == {"mlw_plan": "success", "prep": "success", "train": "success"}
    assert reused(run) == {"prep": True, "train": True}, "each step found its hit itself"
    assert xcom(run, "mlw_plan") == {"reused": [], "planned": False}


def test_planner_failing_after_writing_its_rows_leaves_one_row_per_step(
    workspace: Any,
    scripts: Path,  # noqa: F811
    monkeypatch: Any,
) -> None:
    from sqlalchemy import select

    import airflow_mlw.execution.planning as planning
    from airflow_mlw.registry.rows import RunRow
    from airflow_mlw.runs.inprocess import run_dag

    # A DAG run Airflow starts (not a submission): the planning task writes the hits' rows itself.
    assert str(run_dag(build(workspace, scripts).to_dag("planned_rows")).state) == "success"
    written = planning._record_hits

    def dies_after_writing(*args: Any, **kwargs: Any) -> Any:
        written(*args, **kwargs)
        raise RuntimeError("api-server gone before the hand-over")  # a fault, not a stand-in

    monkeypatch.setattr(planning, "_record_hits", dies_after_writing)
    dag_run = run_dag(build(workspace, scripts).to_dag("planned_rows"))
    assert str(dag_run.state) == "success"
    with workspace.store.session() as session:
        rows = session.scalars(
            select(RunRow).where(RunRow.dag_run_id == dag_run.run_id, RunRow.kind == "step")
        ).all()
        steps = sorted((row.task_id, row.status, bool(row.reused_from_id)) for row in rows)
        planned = [row.task_id for row in rows if (row.properties or {}).get("planned")]
    assert steps == [("prep", "Finished", True), ("train", "Finished", True)], (
        "one row per step, reused in-task"
    )
    assert planned == []
