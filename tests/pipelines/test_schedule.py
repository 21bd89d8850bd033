"""ScheduleRecurrence: Azure's validation rules, and the Airflow timetables DAGs get."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.pipeline.core.schedule import ScheduleRecurrence, ScheduleRecurrenceError
from airflow_mlw.pipelines import Pipeline, PythonScriptStep


def next_runs(timetable: Any, after: datetime, count: int = 3) -> list[datetime]:
    """Fire times of the timetable as the scheduler computes them (core timetable)."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    timetable = coerce_to_core_timetable(timetable)
    runs, last = [], None
    for _ in range(count):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last,
            restriction=TimeRestriction(earliest=after, latest=None, catchup=True),
        )
        runs.append(info.run_after)
        last = DataInterval(info.data_interval.start, info.data_interval.end)
    return runs


def test_daily_hours_and_minutes_become_one_cron(tmp_path: Path) -> None:
    recurrence = ScheduleRecurrence(frequency="Day", interval=1, hours=[17, 9], minutes=[30, 0])
    timetable = recurrence.to_timetable()
    assert timetable.expression == "0,30 9,17 * * *"
    start = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    assert [t.strftime("%H:%M") for t in next_runs(timetable, start)] == ["17:00", "17:30", "09:00"]


def test_weekly_days_and_time_of_day() -> None:
    recurrence = ScheduleRecurrence(
        frequency="Week",
        interval=1,
        week_days=["Monday", "Friday"],
        time_of_day="06:15",
        time_zone="Europe/Berlin",
    )
    timetable = recurrence.to_timetable()
    assert timetable.expression == "15 6 * * mon,fri"
    runs = next_runs(timetable, datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    assert [t.strftime("%a") for t in runs] == ["Fri", "Mon", "Fri"]


def test_minutes_hours_and_weeks_use_deltas() -> None:
    assert ScheduleRecurrence("Minute", 15).to_timetable().delta == timedelta(minutes=15)
    assert ScheduleRecurrence("Hour", 2).to_timetable().delta == timedelta(hours=2)
    assert ScheduleRecurrence("Week", 2).to_timetable().delta == timedelta(weeks=2)
    monthly = ScheduleRecurrence("Month", 1, start_time="2026-01-15T08:30:00")
    assert monthly.to_timetable().expression == "30 8 15 * *"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"frequency": "Fortnight", "interval": 1}, "frequency 'Fortnight' must be one of"),
        ({"frequency": "Day", "interval": 0}, "interval 0 must be an integer of at least 1"),
        (
            {"frequency": "Hour", "interval": 1, "hours": [1], "minutes": [0]},
            "need frequency 'Day' or 'Week'",
        ),
        ({"frequency": "Day", "interval": 1, "week_days": ["Monday"]}, "week_days need frequency 'Week'"),
        (
            {"frequency": "Week", "interval": 1, "week_days": ["Funday"]},
            r"week_days \['Funday'\] are not among",
        ),
        ({"frequency": "Day", "interval": 1, "hours": [25], "minutes": [0]}, "hours .* between 0 and 23"),
        ({"frequency": "Day", "interval": 1, "time_of_day": "9h"}, "time_of_day '9h' must be 'HH:MM'"),
        (
            {"frequency": "Day", "interval": 1, "time_of_day": "09:00", "hours": [1], "minutes": [0]},
            "cannot be combined",
        ),
        ({"frequency": "Day", "interval": 1, "hours": [9]}, "hours and minutes must be given together"),
    ],
)
def test_azure_validation_rules(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ScheduleRecurrenceError, match=message):
        ScheduleRecurrence(**kwargs)


def test_to_dag_takes_a_recurrence(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("print(1)\n")
    step = PythonScriptStep("s.py", name="s", source_directory=str(tmp_path))
    dag = Pipeline(workspace, [step]).to_dag(
        "mlw_scheduled", schedule=ScheduleRecurrence("Day", 1, hours=[6], minutes=[0])
    )
    assert dag.timetable.expression == "0 6 * * *"
