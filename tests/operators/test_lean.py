"""``LeanOperator`` (the script and planning operators' base) takes a shorter path through Airflow's
constructor (DAG files with many steps are parsed every 30 s): it must build exactly the operator
Airflow's own path builds, and leave Airflow's path in charge once the operator is built."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG, BaseOperator

from airflow_mlw.operators.lean import LeanOperator
from airflow_mlw.operators.script import LocalScriptOperator


def build(tmp_path: Path) -> tuple[Any, Any]:
    with DAG("construction", schedule=None, default_args={"retries": 2}) as dag:
        upstream = LocalScriptOperator(task_id="prep", source_directory=str(tmp_path), script="prep.py")
        step = LocalScriptOperator(
            task_id="train",
            source_directory=str(tmp_path),
            script="train.py",
            arguments=["--alpha", 0.5],
            step_name="train",
            step_params={"alpha": "0.5"},
            retry_delay=30,
            executor_config={"pool": "a"},
            doc_md="trains",
        )
        upstream >> step
    return dag, step


def state(operator: Any) -> dict[str, str]:
    """The operator's attributes (and the arguments Airflow keeps), but the DAG and group it is in."""
    given = {f"given {key}": value for key, value in operator._BaseOperator__init_kwargs.items()}
    found = {**vars(operator), **given}
    left_out = ("_dag", "dag", "task_group", "_BaseOperator__init_kwargs", "given dag", "given task_group")
    return {key: repr(value) for key, value in found.items() if key not in left_out}


def test_the_short_path_builds_what_airflows_path_builds(tmp_path: Path, monkeypatch: Any) -> None:
    _, ours = build(tmp_path)
    monkeypatch.setattr(LeanOperator, "__setattr__", BaseOperator.__setattr__)
    _, airflows = build(tmp_path)
    assert state(ours) == state(airflows)
    assert ours.retries == 2 and ours.retry_delay.total_seconds() == 30, "converted as Airflow converts"


def test_after_construction_airflows_setattr_applies(tmp_path: Path) -> None:
    dag, step = build(tmp_path)
    with pytest.raises(TypeError, match="retries"):
        step.retries = "many"  # Airflow's converter still checks it
    with dag:
        producer = LocalScriptOperator(task_id="producer", source_directory=str(tmp_path), script="p.py")
    step.arguments = producer.output  # a template field given an XComArg: Airflow wires the edge
    assert "producer" in step.upstream_task_ids
    step.trigger_rule = "none_failed"
    assert step._BaseOperator__init_kwargs.get("trigger_rule", "none_failed") == "none_failed"
