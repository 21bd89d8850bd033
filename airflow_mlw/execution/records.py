"""Every write of a run row (``mlw_runs``) and of its metrics: one place for what a run records.

Script runs, pipeline runs and step runs are rows of one table (``kind``). A pipeline run's id is
derived from its DAG run, so the first step, the trigger route and the DAG callbacks all find the
same row without passing it around.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from airflow_mlw import run as in_script
from airflow_mlw.exceptions import MlwError
from airflow_mlw.registry.rows import MetricRow, RunRow, utcnow

TERMINAL = ("Finished", "Failed", "Canceled")


def create_run(workspace: Any, **fields: Any) -> str:
    """A new run row of this workspace with ``fields`` (``kind``, ``name``, ...); its id.

    A step's row replaces the one the pipeline's planning task wrote for the same task instance: a
    planner that died after writing its hits' rows (before it could skip those steps) leaves each
    step to run its task, and a step has one row, not two.
    """
    with workspace.store.session(write=True) as session:
        ws_id = workspace._workspace_id()
        if fields.get("kind") == "step" and fields.get("task_id"):
            _drop_planned_row(session, ws_id, fields)
        row = RunRow(workspace_id=ws_id, **fields)
        session.add(row)
        session.flush()
        return row.id


def _drop_planned_row(session: Any, ws_id: int, fields: dict[str, Any]) -> None:
    from sqlalchemy import select

    rows = session.scalars(
        select(RunRow).where(
            RunRow.workspace_id == ws_id,
            RunRow.kind == "step",
            RunRow.dag_id == fields.get("dag_id"),
            RunRow.dag_run_id == fields.get("dag_run_id"),
            RunRow.task_id == fields["task_id"],
        )
    ).all()
    for row in rows:
        if (row.properties or {}).get("planned"):
            session.delete(row)


def create_runs(workspace: Any, rows: list[dict[str, Any]]) -> list[str]:
    """New run rows (each its ``fields``) in one transaction; their ids, in order."""
    with workspace.store.session(write=True) as session:
        made = [RunRow(workspace_id=workspace._workspace_id(), **fields) for fields in rows]
        session.add_all(made)
        session.flush()
        return [row.id for row in made]


def update_run(workspace: Any, run_id: str, **fields: Any) -> None:
    """Set ``fields`` on the run row (a missing row is left alone: the run was deleted)."""
    with workspace.store.session(write=True) as session:
        row = session.get(RunRow, run_id)
        if row is not None:
            for name, value in fields.items():
                setattr(row, name, value)


def add_properties(workspace: Any, run_id: str, **properties: Any) -> None:
    """Add ``properties`` to what the run recorded (a missing row is left alone)."""
    with workspace.store.session(write=True) as session:
        row = session.get(RunRow, run_id)
        if row is not None:
            row.properties = {**(row.properties or {}), **properties}


def add_files(workspace: Any, run_id: str, names: list[str]) -> None:
    """Add ``names`` to the files the run lists (``get_file_names()``; a missing row is left alone)."""
    with workspace.store.session(write=True) as session:
        row = session.get(RunRow, run_id)
        if row is not None:
            properties = dict(row.properties or {})
            properties["files"] = sorted({*properties.get("files", []), *names})
            row.properties = properties


def is_descendant(workspace: Any, run_id: str, ancestor_id: str) -> bool:
    """Whether the run is a child (at any depth) of ``ancestor_id``."""
    with workspace.store.session() as session:
        row = session.get(RunRow, run_id)
        parent = row.parent_id if row is not None else None
        for _ in range(32):
            if parent is None or parent == ancestor_id:
                break
            above = session.get(RunRow, parent)
            parent = above.parent_id if above is not None else None
        return parent == ancestor_id


def set_status(workspace: Any, run_id: str, status: str, **fields: Any) -> None:
    """The run's status, with its start or end time, and ``fields``; the row must exist."""
    with workspace.store.session(write=True) as session:
        row = session.get(RunRow, run_id)
        if row is None:
            raise MlwError(f"run {run_id} is not in the registry")
        row.status = status
        if status == "Running":
            row.started_at = utcnow()
        if status in TERMINAL:
            row.finished_at = utcnow()
        if "properties" in fields:  # added to what the run recorded so far (its script's properties)
            fields = {**fields, "properties": {**(row.properties or {}), **fields["properties"]}}
        for name, value in fields.items():
            setattr(row, name, value)


def handover_fields(hit: Any) -> dict[str, Any]:
    """What a reused step run records: finished at once, with the outputs of the run it reuses."""
    now = utcnow()
    return {
        "status": "Finished",
        "reused_from_id": hit.reused_from_id or hit.id,
        "outputs": dict(hit.outputs or {}),
        "started_at": now,
        "finished_at": now,
        "properties": {"reused": True},
    }


def pipeline_run_id(workspace: Any, dag_id: str, dag_run_id: str) -> str:
    """The pipeline run of a DAG run: one registry row per DAG run, made by whoever comes first."""
    run_id = hashlib.sha256(f"{workspace.name}/{dag_id}/{dag_run_id}".encode()).hexdigest()[:32]
    with workspace.store.session() as session:
        if session.get(RunRow, run_id) is not None:
            return run_id
    with workspace.store.session(write=True) as session:
        workspace.store.insert_ignore(
            session,
            RunRow,
            id=run_id,
            workspace_id=workspace._workspace_id(),
            kind="pipeline",
            experiment_name=dag_id,
            name=dag_id,
            dag_id=dag_id,
            dag_run_id=dag_run_id,
            status="Running",
            outputs={},
            tags={},
            properties={},
            created_at=utcnow(),
        )
    return run_id


def record_pipeline_run(
    workspace: Any,
    dag_id: str,
    dag_run_id: str,
    experiment_name: str,
    tags: dict[str, Any] | None,
    status: str,
    dag_run: Any = None,
) -> str:
    """The pipeline run row of a DAG run about to start (or, given ``dag_run``, just ended
    in-process: its times too); its id."""
    run_id = pipeline_run_id(workspace, dag_id, dag_run_id)
    times = dag_run_times(dag_run) if dag_run is not None else {}
    update_run(
        workspace, run_id, status=status, experiment_name=experiment_name, tags=dict(tags or {}), **times
    )
    return run_id


def dag_run_times(dag_run: Any) -> dict[str, Any]:
    """A pipeline run's start and end: its Airflow DAG run's (an ended run without an end date: now)."""
    ended = str(getattr(dag_run, "state", "")) in ("success", "failed")
    finished = getattr(dag_run, "end_date", None) or (utcnow() if ended else None)
    return {"started_at": getattr(dag_run, "start_date", None), "finished_at": finished}


def mark_pipeline_run(workspace: Any, status: str, context: Any) -> None:
    """DAG callback: the pipeline run's final status and times, for runs no ``submit`` waits for
    in-process."""
    dag_run = context["dag_run"]
    run_id = pipeline_run_id(workspace, dag_run.dag_id, dag_run.run_id)
    with workspace.store.session(write=True) as session:
        row = session.get(RunRow, run_id)
        if row is not None and row.status != "Canceled":  # a canceled run failed because it was
            row.status = status
            row.started_at = getattr(dag_run, "start_date", None) or row.started_at
            row.finished_at = getattr(dag_run, "end_date", None) or utcnow()


# -- what a script logged --------------------------------------------------------------------------

#: Record kinds that are metrics (the rest: tags, properties, child runs, status, model requests).
METRIC_KINDS = frozenset(in_script.METRIC_KINDS)


def apply_script_records(workspace: Any, run_id: str, logged: list[dict[str, Any]]) -> None:
    """Store what a script's ``Run`` wrote (``run.log*``, tags, properties, child runs and their
    metrics) under the run and its children, in one transaction, in logging order."""
    with workspace.store.session(write=True) as session:
        root = session.get(RunRow, run_id)
        if root is None:
            raise MlwError(f"run {run_id} is not in the registry")
        rows = {run_id: root}
        for record in logged:
            kind, name = record["kind"], record["name"]
            value: Any = record.get("value")
            if kind == "child":
                child = RunRow(
                    id=value["id"],
                    workspace_id=root.workspace_id,
                    kind="child",
                    experiment_name=root.experiment_name,
                    parent_id=value["parent"],
                    name=name or None,
                    dag_id=root.dag_id,
                    dag_run_id=root.dag_run_id,
                    task_id=root.task_id,
                    compute_target=root.compute_target,
                    status="Running",
                    started_at=utcnow(),
                    outputs={},
                    tags={},
                    properties={},
                )
                session.add(child)
                session.flush()  # before its metrics: they reference it
                rows[child.id] = child
                continue
            row = rows.get(record.get("run") or run_id)
            if row is None:
                continue  # a record of a child this script never announced
            if kind in METRIC_KINDS:
                session.add(
                    MetricRow(run_id=row.id, name=name, kind=kind, value=value, step=record.get("step"))
                )
            elif kind == "tag":
                row.tags = {**(row.tags or {}), name: value}
            elif kind == "untag":
                row.tags = {k: v for k, v in (row.tags or {}).items() if k != name}
            elif kind == "property":
                properties = dict(row.properties or {})
                properties.setdefault("user", {})[name] = value
                row.properties = properties
            elif kind == "status":
                status = value if isinstance(value, str) else value.get("status", "Failed")
                row.status, row.finished_at = status, utcnow()
                if isinstance(value, dict) and value.get("error"):
                    row.properties = {**(row.properties or {}), "error": value["error"]}
        # Children the script left running end with it.
        for row in rows.values():
            if row.id != run_id and row.status == "Running":
                row.status, row.finished_at = "Finished", utcnow()


# -- metrics ---------------------------------------------------------------------------------------


def fold_metrics(records: Iterable[tuple[str, str, Any]], name: str | None = None) -> dict[str, Any]:
    """``(name, kind, value)`` in logging order -> name -> value; a scalar logged several times
    gives the list of its values (Azure's ``get_metrics``)."""
    metrics: dict[str, Any] = {}
    for metric, kind, value in records:
        if name is not None and metric != name:
            continue
        if metric in metrics and kind == "scalar":
            previous = metrics[metric]
            metrics[metric] = (previous if isinstance(previous, list) else [previous]) + [value]
        else:
            metrics[metric] = value
    return metrics


def add_metrics(workspace: Any, run_id: str, records: list[tuple[str, str, Any]]) -> None:
    """Store ``(name, kind, value)`` metrics of a run, in order."""
    if records:
        with workspace.store.session(write=True) as session:
            session.add_all(
                MetricRow(run_id=run_id, name=name, kind=kind, value=value) for name, kind, value in records
            )


def load_metrics(workspace: Any, run_id: str) -> list[tuple[str, str, Any]]:
    """A run's metrics as ``(name, kind, value)`` in logging order."""
    from sqlalchemy import select

    with workspace.store.session() as session:
        rows = session.scalars(select(MetricRow).where(MetricRow.run_id == run_id).order_by(MetricRow.id))
        return [(row.name, row.kind, row.value) for row in rows]
