"""The schedule runner's decisions with a fixed clock: due times, firings recorded once, datastore polls."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.pipeline.core import PipelineEndpoint, Schedule, ScheduleRecurrence
from airflow_mlw.pipelines.schedule_runner import due_firings, due_time
from tests.pipelines.published import publish_pipeline

T0 = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC)  # a Monday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_due_times_follow_azure_rules() -> None:
    hourly = ScheduleRecurrence("Hour", 1)
    # No start_time: the first run is instant, the next ones count from creation.
    assert due_time(hourly, T0, T0, None, T0 + timedelta(seconds=20)) == T0
    assert due_time(hourly, T0, T0, T0, T0 + timedelta(minutes=59)) is None
    assert due_time(hourly, T0, T0, T0, T0 + timedelta(hours=1, seconds=5)) == T0 + timedelta(hours=1)
    # A runner that was down fires once, for the latest missed time.
    assert due_time(
        hourly, T0, T0, T0 + timedelta(hours=1), T0 + timedelta(hours=3, minutes=10)
    ) == T0 + timedelta(hours=3)

    daily = ScheduleRecurrence("Day", 1, hours=[6], minutes=[0])
    assert due_time(daily, T0, T0, T0, at("2026-01-06T05:59:59")) is None
    assert due_time(daily, T0, T0, T0, at("2026-01-06T06:00:20")) == at("2026-01-06T06:00:00")

    # A start_time in the future: periods start there.
    later = ScheduleRecurrence("Minute", 15, start_time="2026-01-05T12:00:00")
    assert due_time(later, T0, T0, None, at("2026-01-05T11:59:00")) is None
    assert due_time(later, T0, T0, None, at("2026-01-05T12:20:00")) == at("2026-01-05T12:15:00")

    # A start_time in the past with a time of day (Berlin is UTC+1 in January): no instant run,
    # the first run is the next calculated time.
    berlin = ScheduleRecurrence(
        "Day", 1, start_time="2026-01-01T00:00:00", time_zone="Europe/Berlin", time_of_day="06:15"
    )
    assert due_time(berlin, T0, T0, None, at("2026-01-05T23:00:00")) is None
    assert due_time(berlin, T0, T0, None, at("2026-01-06T05:15:10")) == at("2026-01-06T05:15:00")

    # Re-enabled on the 8th: what was missed while disabled does not fire.
    enabled = at("2026-01-08T12:00:00")
    assert due_time(berlin, T0, enabled, at("2026-01-06T05:15:00"), at("2026-01-08T12:01:00")) is None
    assert due_time(berlin, T0, enabled, at("2026-01-06T05:15:00"), at("2026-01-09T05:16:00")) == at(
        "2026-01-09T05:15:00"
    )

    weekly = ScheduleRecurrence("Week", 1, week_days=["Wednesday"], time_of_day="09:00")
    assert due_time(weekly, T0, T0, T0, at("2026-01-10T00:00:00")) == at("2026-01-07T09:00:00")


@pytest.fixture
def scheduled(registry_url: str, tmp_path: Path) -> tuple[Any, Any]:
    """A workspace with datastore ``files`` and a published pipeline (DAG ``mlw_target``)."""
    from airflow_mlw import Datastore, Workspace

    ws = Workspace.create("sched", registry_url=registry_url)
    (tmp_path / "store" / "in").mkdir(parents=True)
    (tmp_path / "store" / "in" / "present.csv").write_text("present\n")
    Datastore.register_local(ws, "files", tmp_path / "store")
    return ws, publish_pipeline(ws, tmp_path)


def test_each_due_time_fires_once(scheduled: tuple[Any, Any]) -> None:
    ws, published = scheduled
    schedule = Schedule.create(
        ws,
        "hourly",
        published.id,
        "exp",
        recurrence=ScheduleRecurrence("Hour", 1),
        pipeline_parameters={"greeting": "hi"},
    )
    created = schedule.created_at
    assert created is not None

    first = due_firings(ws, now=created + timedelta(seconds=30))
    assert first == [
        {
            "trigger_dag_id": "mlw_target",
            "trigger_run_id": f"mlw_schedule__{schedule.id}__{created:%Y%m%dT%H%M%S%fZ}",
            "conf": {"greeting": "hi"},
            "run_after": created.isoformat(),
        }
    ]
    assert due_firings(ws, now=created + timedelta(seconds=40)) == []
    assert due_firings(ws, now=created + timedelta(minutes=59)) == []
    [second] = due_firings(ws, now=created + timedelta(hours=1, seconds=1))
    assert second["run_after"] == (created + timedelta(hours=1)).isoformat()

    schedule.disable()
    assert due_firings(ws, now=created + timedelta(hours=2, seconds=1)) == []
    schedule.enable()
    schedule.update(pipeline_parameters={"greeting": "again"})
    [third] = due_firings(ws, now=created + timedelta(hours=3, seconds=1))
    assert third["conf"] == {"greeting": "again"}
    assert third["run_after"] == (created + timedelta(hours=3)).isoformat()

    published.disable()  # the pipeline is off: nothing fires, nothing is recorded
    assert due_firings(ws, now=created + timedelta(hours=4, seconds=1)) == []
    published.enable()
    assert len(due_firings(ws, now=created + timedelta(hours=4, seconds=2))) == 1


def test_concurrent_runners_fire_a_due_time_once(scheduled: tuple[Any, Any]) -> None:
    from airflow_mlw import Workspace
    from airflow_mlw.registry.rows import ScheduleFiringRow

    ws, published = scheduled
    schedules = [
        Schedule.create(ws, f"s{i}", published.id, "exp", recurrence=ScheduleRecurrence("Minute", 5))
        for i in range(3)
    ]
    now = max(s.created_at for s in schedules if s.created_at) + timedelta(seconds=1)
    barrier = threading.Barrier(4)
    results: list[list[dict[str, Any]]] = []

    def runner() -> None:
        # Each runner as its own task would have it: its own Workspace object.
        workspace = Workspace("", "", "sched", registry_url=ws.settings.registry_url)
        barrier.wait()
        results.append(due_firings(workspace, now=now))

    threads = [threading.Thread(target=runner) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    fired = [kwargs["trigger_run_id"] for result in results for kwargs in result]
    assert sorted(fired) == sorted(set(fired)) and len(fired) == 3
    with ws.store.session() as session:
        rows = session.query(ScheduleFiringRow).all()
        assert sorted(row.dag_run_id for row in rows) == sorted(fired)


def test_endpoint_schedule_fires_its_default_version(scheduled: tuple[Any, Any], tmp_path: Path) -> None:
    ws, published = scheduled
    endpoint = PipelineEndpoint.publish(ws, "ep", "an endpoint", published)
    schedule = Schedule.create_for_pipeline_endpoint(
        ws, "hourly", endpoint.id, "exp", recurrence=ScheduleRecurrence("Hour", 1)
    )
    created = schedule.created_at
    assert created is not None
    assert [k["trigger_dag_id"] for k in due_firings(ws, now=created + timedelta(seconds=1))] == [
        "mlw_target"
    ]
    endpoint.add_default(publish_pipeline(ws, tmp_path, dag_id="mlw_target_v2", name="target"))
    later = due_firings(ws, now=created + timedelta(hours=1, seconds=1))
    assert [k["trigger_dag_id"] for k in later] == ["mlw_target_v2"]


def test_datastore_schedule_fires_once_per_change_batch(scheduled: tuple[Any, Any], tmp_path: Path) -> None:
    ws, published = scheduled
    schedule = Schedule.create(
        ws,
        "on-files",
        published.id,
        "exp",
        datastore="files",
        path_on_datastore="in",
        polling_interval=1,
        data_path_parameter_name="incoming",
        pipeline_parameters={"greeting": "files!"},
    )
    created = schedule.created_at
    assert created is not None
    incoming = tmp_path / "store" / "in"
    # Present at creation: never fires.
    assert due_firings(ws, now=created + timedelta(minutes=1, seconds=1)) == []
    for name in ("a.csv", "b.csv", "c.csv"):
        (incoming / name).write_text(name)
    # The polling interval has not passed since the last poll: not looked at yet.
    assert due_firings(ws, now=created + timedelta(minutes=1, seconds=30)) == []
    [batch] = due_firings(ws, now=created + timedelta(minutes=2, seconds=2))
    assert batch["conf"] == {
        "greeting": "files!",
        "incoming": {"DataStoreName": "files", "RelativePath": "in"},
    }
    assert batch["trigger_dag_id"] == "mlw_target"
    assert due_firings(ws, now=created + timedelta(minutes=3, seconds=3)) == []
    (incoming / "b.csv").write_text("changed")
    [modified] = due_firings(ws, now=created + timedelta(minutes=4, seconds=4))
    assert modified["conf"]["incoming"] == {"DataStoreName": "files", "RelativePath": "in/b.csv"}
    schedule.disable()
    (incoming / "d.csv").write_text("d")
    assert due_firings(ws, now=created + timedelta(minutes=6)) == []
    schedule.enable()  # d.csv changed while disabled: part of the new baseline, never fires
    assert due_firings(ws, now=created + timedelta(minutes=8)) == []
    (incoming / "e.csv").write_text("e")
    [after] = due_firings(ws, now=created + timedelta(minutes=10))
    assert after["conf"] == {
        "greeting": "files!",
        "incoming": {"DataStoreName": "files", "RelativePath": "in/e.csv"},
    }
