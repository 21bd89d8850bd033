"""``ScheduleRecurrence`` with Azure's validation rules, turned into native Airflow timetables.

| recurrence | timetable |
|---|---|
| every N minutes / hours | ``DeltaTriggerTimetable`` |
| days / weeks / months at set hours and minutes, week days | ``CronTriggerTimetable`` |
| every N weeks (N > 1) | ``DeltaTriggerTimetable`` |

Building one does no I/O; the DAG carries the timetable, so a schedule lives with its DAG in
Airflow (Azure kept schedules as separate objects: ``Schedule.create`` comes with publishing).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow_mlw.exceptions import MlwError

FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CRON_DAYS = {day: day[:3].lower() for day in WEEK_DAYS}


class ScheduleRecurrenceError(MlwError):
    """A recurrence Azure would refuse (frequency, interval, hours/minutes/week_days combinations)."""


class ScheduleRecurrence:
    """How often a pipeline runs (Azure's ``ScheduleRecurrence``).

    :param frequency: ``Minute``, ``Hour``, ``Day``, ``Week`` or ``Month``
    :param interval: run every ``interval`` units (1 or more)
    :param start_time: first run (datetime or ISO string); the minute/hour/day it names anchors
        ``Day``/``Week``/``Month`` recurrences without ``hours``/``minutes``
    :param time_zone: IANA time zone of ``start_time`` and the hours (default UTC)
    :param hours: hours of the day (``Day``/``Week`` only)
    :param minutes: minutes of the hour (``Day``/``Week`` only)
    :param week_days: days of the week (``Week`` only)
    :param time_of_day: ``"HH:MM"`` (``Day``/``Week`` only; not with ``hours``/``minutes``)
    """

    def __init__(
        self,
        frequency: str,
        interval: int,
        start_time: datetime | str | None = None,
        time_zone: str | None = None,
        hours: list[int] | None = None,
        minutes: list[int] | None = None,
        week_days: list[str] | None = None,
        time_of_day: str | None = None,
    ) -> None:
        self.frequency = frequency
        self.interval = interval
        self.start_time = datetime.fromisoformat(start_time) if isinstance(start_time, str) else start_time
        self.time_zone = time_zone or "UTC"
        self.hours = list(hours or [])
        self.minutes = list(minutes or [])
        self.week_days = list(week_days or [])
        self.time_of_day = time_of_day
        self.validate()

    def validate(self) -> None:
        """Azure's rules, each refused with a message naming the value."""
        if self.frequency not in FREQUENCIES:
            raise ScheduleRecurrenceError(
                f"frequency {self.frequency!r} must be one of {', '.join(FREQUENCIES)}"
            )
        if not isinstance(self.interval, int) or isinstance(self.interval, bool) or self.interval < 1:
            raise ScheduleRecurrenceError(f"interval {self.interval!r} must be an integer of at least 1")
        if (self.hours or self.minutes or self.time_of_day) and self.frequency not in ("Day", "Week"):
            raise ScheduleRecurrenceError(
                f"hours, minutes and time_of_day need frequency 'Day' or 'Week', not {self.frequency!r}"
            )
        if self.week_days and self.frequency != "Week":
            raise ScheduleRecurrenceError(f"week_days need frequency 'Week', not {self.frequency!r}")
        if self.time_of_day and (self.hours or self.minutes):
            raise ScheduleRecurrenceError("time_of_day cannot be combined with hours or minutes")
        if self.frequency in ("Day", "Week") and bool(self.hours) != bool(self.minutes):
            raise ScheduleRecurrenceError("hours and minutes must be given together")
        bad_days = [d for d in self.week_days if d not in WEEK_DAYS]
        if bad_days:
            raise ScheduleRecurrenceError(f"week_days {bad_days} are not among {', '.join(WEEK_DAYS)}")
        if any(not 0 <= h <= 23 for h in self.hours):
            raise ScheduleRecurrenceError(f"hours {self.hours} must be between 0 and 23")
        if any(not 0 <= m <= 59 for m in self.minutes):
            raise ScheduleRecurrenceError(f"minutes {self.minutes} must be between 0 and 59")
        if self.time_of_day is not None:
            try:
                hour, minute = (int(part) for part in self.time_of_day.split(":"))
                assert 0 <= hour <= 23 and 0 <= minute <= 59
            except (ValueError, AssertionError):
                raise ScheduleRecurrenceError(f"time_of_day {self.time_of_day!r} must be 'HH:MM'") from None
        if self.frequency == "Week" and self.interval != 1 and (self.week_days or self.hours):
            raise ScheduleRecurrenceError("a weekly recurrence with week_days or hours needs interval 1")

    def to_json(self) -> dict[str, Any]:
        return {
            "frequency": self.frequency,
            "interval": self.interval,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "time_zone": self.time_zone,
            "hours": self.hours,
            "minutes": self.minutes,
            "week_days": self.week_days,
            "time_of_day": self.time_of_day,
        }

    def _times(self) -> tuple[str, str]:
        """Cron minute and hour fields of a Day/Week/Month recurrence."""
        if self.time_of_day:
            hour, minute = self.time_of_day.split(":")
            return str(int(minute)), str(int(hour))
        if self.hours:
            return ",".join(str(m) for m in sorted(set(self.minutes))), ",".join(
                str(h) for h in sorted(set(self.hours))
            )
        anchor = self.start_time or datetime(2000, 1, 1)
        return str(anchor.minute), str(anchor.hour)

    def to_timetable(self) -> Any:
        """The Airflow timetable that fires at this recurrence's times."""
        from airflow.sdk import CronTriggerTimetable, DeltaTriggerTimetable

        if self.frequency == "Minute":
            return DeltaTriggerTimetable(timedelta(minutes=self.interval))
        if self.frequency == "Hour":
            return DeltaTriggerTimetable(timedelta(hours=self.interval))
        minute, hour = self._times()
        if self.frequency == "Day":
            days = "*" if self.interval == 1 else f"*/{self.interval}"
            return CronTriggerTimetable(f"{minute} {hour} {days} * *", timezone=self.time_zone)
        if self.frequency == "Week":
            if self.week_days:
                days = ",".join(CRON_DAYS[d] for d in self.week_days)
            else:
                days = CRON_DAYS[WEEK_DAYS[(self.start_time or datetime(2000, 1, 3)).weekday()]]
            if self.interval == 1:
                return CronTriggerTimetable(f"{minute} {hour} * * {days}", timezone=self.time_zone)
            return DeltaTriggerTimetable(timedelta(weeks=self.interval))
        day = (self.start_time or datetime(2000, 1, 1)).day
        months = "*" if self.interval == 1 else f"*/{self.interval}"
        return CronTriggerTimetable(f"{minute} {hour} {day} {months} *", timezone=self.time_zone)

    def __repr__(self) -> str:
        return f"ScheduleRecurrence({self.to_json()!r})"


def airflow_schedule(schedule: Any) -> Any:
    """What ``to_dag(schedule=...)`` hands Airflow: recurrences become timetables, the rest passes."""
    if isinstance(schedule, ScheduleRecurrence):
        return schedule.to_timetable()
    return schedule
