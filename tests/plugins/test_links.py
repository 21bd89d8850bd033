"""The steps' extra links come from the plugin, computed by the api-server: every operator with a
registry run per task instance gets them, and none declares links a worker would push to XCom."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

LINK_NAMES = {"ML run", "ML outputs", "ML dataset versions"}


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub, *all_subclasses(sub)}
    return found


def test_every_script_operator_gets_the_plugins_links_and_declares_none() -> None:
    from airflow_mlw.operators.links import api_server_links
    from airflow_mlw.operators.script import MlwScriptOperator

    for module in ("docker", "kubernetes", "parallel", "hyperdrive"):
        importlib.import_module(f"airflow_mlw.operators.{module}")
    operators = {
        op
        for op in all_subclasses(MlwScriptOperator)
        if op.__module__.startswith("airflow_mlw.") and not op.__name__.endswith("Mixin")
    }
    assert len(operators) >= 6, operators
    links = api_server_links()
    assert {link.name for link in links} == LINK_NAMES
    for link in links:
        linked = {(op.__module__, op.__name__) for op in link.operators}
        missing = sorted(
            f"{op.__module__}.{op.__name__}" for op in operators if (op.__module__, op.__name__) not in linked
        )
        assert not missing, f"{link.name!r} not given to {missing}"
    pushed = {op.__name__: op.operator_extra_links for op in operators if op.operator_extra_links}
    assert not pushed, f"operators whose workers would push link XComs: {pushed}"


def test_a_deserialized_step_has_the_links_of_the_plugin(tmp_path: Path) -> None:
    """As the api-server sees a DAG: serialized by the dag-processor, read back with the plugins."""
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    from airflow_mlw.operators.script import LocalScriptOperator

    with DAG("links", schedule=None) as dag:
        LocalScriptOperator(task_id="step", source_directory=str(tmp_path), script="train.py")
    task = DagSerialization.from_dict(DagSerialization.to_dict(dag)).get_task("step")
    assert {link.name for link in task.operator_extra_links} == LINK_NAMES


def test_a_tasks_three_links_read_the_registry_once_and_a_missing_run_is_asked_again(
    workspace: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from airflow_mlw.execution import records
    from airflow_mlw.operators.links import api_server_links
    from tests.registry.scale import issued_selects

    # The api-server's workspace is the configured one: this test's.
    monkeypatch.setenv("AIRFLOW__MLW__REGISTRY_URL", workspace.settings.registry_url)
    monkeypatch.setenv("AIRFLOW__MLW__WORKSPACE_NAME", workspace.name)
    ti_key = SimpleNamespace(dag_id="links_dag", run_id="manual__1", task_id="train")
    links = api_server_links()
    with issued_selects(workspace.store.engine) as before_the_run:
        assert [link.get_link(None, ti_key=ti_key) for link in links] == ["", "", ""]
    run_selects = [s for s, _ in before_the_run if "mlw_runs" in s]
    assert len(run_selects) == 3, "a task without a run is asked about each time: it may still run"

    fields = {"kind": "step", "name": "train", "experiment_name": "e", "dag_id": "links_dag"}
    records.create_run(workspace, **fields, dag_run_id="manual__1", task_id="train")
    with issued_selects(workspace.store.engine) as after_the_run:
        shown = [link.get_link(None, ti_key=ti_key) for link in links]
        shown_again = [link.get_link(None, ti_key=ti_key) for link in links]
    assert shown == shown_again and all("task-run?" in link for link in shown), shown
    assert len([s for s, _ in after_the_run if "mlw_runs" in s]) == 1
