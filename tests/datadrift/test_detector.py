"""Drift monitors on a real Airflow metadata DB: backfill as Airflow backfill DAG runs, windows and
metrics in the registry, alerts through a notifier, the schedule as the DAG's pause, deletion."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.datadrift import AlertConfiguration, DataDriftDetector, DataDriftError
from airflow_mlw.registry.rows import DriftMonitorRow, DriftWindowRow
from tests.datadrift.conftest import WEEKS
from tests.datadrift.recording import RecordingNotifier


def dag_runs(dag_id: str) -> list[Any]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id).order_by(DagRun.logical_date)
        ).all()
        session.expunge_all()
    return list(runs)


def window_rows(workspace: Any, monitor: DataDriftDetector) -> list[DriftWindowRow]:
    from sqlalchemy import select

    with workspace.store.session() as session:
        rows = session.scalars(select(DriftWindowRow).where(DriftWindowRow.monitor_id == monitor.id)).all()
        session.expunge_all()
    return list(rows)


@pytest.fixture
def monitor(workspace: Any, datasets: dict[str, Any], dags_folder: Path, tmp_path: Path) -> DataDriftDetector:
    alert = AlertConfiguration(notifier=RecordingNotifier(str(tmp_path / "alerts.jsonl")))
    return DataDriftDetector.create_from_datasets(
        workspace,
        "weekly-drift",
        datasets["baseline"],
        datasets["target"],
        compute_target="local",
        frequency="Week",
        drift_threshold=0.3,
        alert_config=alert,
    )


def test_backfill_of_six_weeks_is_six_backfill_dag_runs_with_metrics_and_alerts(
    workspace: Any, monitor: DataDriftDetector, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from airflow_mlw.widgets import RunDetails

    backfill = monitor.backfill(WEEKS[0], WEEKS[5] + timedelta(days=7))
    backfill.wait_for_completion()
    assert backfill.get_status() == "Finished"

    runs = dag_runs(monitor.dag_id)
    assert [str(r.run_type) for r in runs] == ["backfill"] * 6
    assert {str(r.state) for r in runs} == {"success"}
    assert len({r.backfill_id for r in runs}) == 1
    assert [r.data_interval_start for r in runs] == WEEKS

    rows = sorted(window_rows(workspace, monitor), key=lambda r: r.window_start)
    assert len(rows) == 6 and [r.target_rows for r in rows] == [200] * 6
    over = [r.magnitude > 0.3 for r in rows]
    assert over == [False, False, False, True, True, True]  # weeks 4 to 6 drifted

    metrics = backfill.get_metrics()
    assert len(metrics["drift_magnitude"]) == 6
    assert metrics["drift_magnitude"] == [r.magnitude for r in rows]
    assert metrics["start_date"][0] == WEEKS[0].isoformat()
    assert {"age.wasserstein_distance", "age.ks_pvalue", "colour.jensen_shannon_distance"} <= set(metrics)

    calls = RecordingNotifier.calls(tmp_path / "alerts.jsonl")
    assert [c["drift"]["window_start"] for c in calls] == [w.isoformat() for w in WEEKS[3:]]
    assert all(c["dag_id"] == monitor.dag_id and c["drift"]["magnitude"] > 0.3 for c in calls)
    assert [r.alerted for r in rows] == over

    shot = RunDetails(backfill).show()
    assert shot.status == "Finished" and len(shot.steps) == 6
    assert "drift_magnitude" in capsys.readouterr().out


def test_get_output_filters_by_time(monitor: DataDriftDetector) -> None:
    backfill = monitor.backfill(WEEKS[0], WEEKS[5] + timedelta(days=7))
    results, metrics = monitor.get_output()
    assert [r["start_date"] for r in results] == WEEKS
    middle, _ = monitor.get_output(start_time=WEEKS[1], end_time=WEEKS[4])
    assert [r["start_date"] for r in middle] == WEEKS[1:4]
    assert [r["end_date"] for r in middle] == [w + timedelta(days=7) for w in WEEKS[1:4]]
    assert monitor.get_output(start_time=WEEKS[5] + timedelta(days=1)) == ([], [])
    of_run, _ = monitor.get_output(run_id=backfill.id)
    assert len(of_run) == 6
    assert metrics[3]["dataset_metrics"] == [
        {"name": "drift_magnitude", "value": results[3]["drift_magnitude"]}
    ]
    assert results[3]["has_drift"] and not results[0]["has_drift"]
    figure = monitor.show()
    assert len(figure.axes) == 2 and len(figure.axes[0].lines[0].get_xdata()) == 6


def test_run_computes_the_window_holding_the_target_date(monitor: DataDriftDetector) -> None:
    run = monitor.run(WEEKS[4] + timedelta(days=3))
    assert run.get_status() == "Finished"
    assert run.get_metrics()["start_date"] == WEEKS[4].isoformat()
    [dag_run] = dag_runs(monitor.dag_id)
    assert (dag_run.data_interval_start, dag_run.data_interval_end) == (WEEKS[4], WEEKS[5])


def test_latency_shifts_the_window(workspace: Any, datasets: dict[str, Any], dags_folder: Path) -> None:
    late = DataDriftDetector.create_from_datasets(
        workspace, "late", datasets["baseline"], datasets["target"], frequency="Day", latency=24
    )
    run = late.run(WEEKS[0] + timedelta(days=2, hours=5))
    assert run.get_metrics()["start_date"] == (WEEKS[0] + timedelta(days=2)).isoformat()
    assert run.get_metrics()["target_rows"] == 200
    [dag_run] = dag_runs(late.dag_id)
    assert dag_run.data_interval_start == WEEKS[0] + timedelta(days=3)  # the window, 24 h later


def test_enable_and_disable_schedule_pause_the_dag(monitor: DataDriftDetector, workspace: Any) -> None:
    assert monitor.state == "Disabled" and monitor.is_paused() is True
    monitor.enable_schedule()
    assert monitor.is_paused() is False
    assert DataDriftDetector.get_by_name(workspace, "weekly-drift").state == "Enabled"
    monitor.disable_schedule()
    assert monitor.is_paused() is True
    assert DataDriftDetector.get_by_name(workspace, "weekly-drift").state == "Disabled"


def test_delete_removes_the_dag_file_dag_and_rows(monitor: DataDriftDetector, workspace: Any) -> None:
    from sqlalchemy import select

    monitor.run(WEEKS[0] + timedelta(days=1))
    assert monitor.dag_file.is_file() and window_rows(workspace, monitor)
    monitor.delete()
    assert not monitor.dag_file.exists()
    assert monitor.is_paused() is None and dag_runs(monitor.dag_id) == []
    assert window_rows(workspace, monitor) == []
    with workspace.store.session() as session:
        assert session.scalar(select(DriftMonitorRow).where(DriftMonitorRow.id == monitor.id)) is None
    assert DataDriftDetector.list(workspace) == []


def test_get_by_name_list_and_update(
    monitor: DataDriftDetector, workspace: Any, datasets: dict[str, Any]
) -> None:
    found = DataDriftDetector.get_by_name(workspace, "weekly-drift")
    assert (found.id, found.frequency, found.drift_threshold, found.latency) == (monitor.id, "Week", 0.3, 0)
    assert found.feature_list == ["age", "bmi", "colour"]
    assert found.baseline_dataset.name == "drift baseline" and found.target_dataset.version == 1
    assert found.alert_config is not None and isinstance(found.alert_config.notifier, RecordingNotifier)
    assert [m.name for m in DataDriftDetector.list(workspace, target_data_set=datasets["target"])] == [
        "weekly-drift"
    ]
    found.update(feature_list=["age"], drift_threshold=0.5, latency=6)
    again = DataDriftDetector.get_by_name(workspace, "weekly-drift")
    assert (again.feature_list, again.drift_threshold, again.latency) == (["age"], 0.5, 6)
    with pytest.raises(DataDriftError, match="already exists"):
        DataDriftDetector.create_from_datasets(
            workspace, "weekly-drift", datasets["baseline"], datasets["target"]
        )


def test_the_dag_file_parses_without_io(
    monitor: DataDriftDetector, dags_folder: Path, tmp_path: Path
) -> None:
    from airflow.dag_processing.dagbag import DagBag

    from airflow_mlw.datadrift.dag import dag_spec, write_dag_file
    from airflow_mlw.workspace import Workspace

    nowhere = tmp_path / "nowhere" / "registry.db"
    elsewhere = Workspace(workspace_name="elsewhere", registry_url=f"sqlite:///{nowhere}")
    other = write_dag_file(dag_spec(elsewhere, "other", "0" * 32, "Month"))
    bag = DagBag(dag_folder=str(dags_folder))
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == sorted([monitor.dag_id, "mlw_datadrift_other_00000000"])
    dag = bag.dags[monitor.dag_id]
    assert dag.timetable.summary == "0 0 * * 1" and dag.task_ids == ["compute_drift"]
    assert bag.dags["mlw_datadrift_other_00000000"].timetable.summary == "0 0 1 * *"
    assert not nowhere.parent.exists()  # parsing opened no registry
    assert "import pandas" not in other.read_text() and other.stat().st_size < 1000
