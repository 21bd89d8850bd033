"""``ScheduleRecurrence``: how often a pipeline runs, with Azure's validation rules, as a native
Airflow timetable.

| recurrence | timetable |
|---|---|
| every N minutes / hours | ``DeltaTriggerTimetable`` |
| days / weeks / months at set hours and minutes, week days | ``CronTriggerTimetable`` |
| every N weeks (N > 1) | ``DeltaTriggerTimetable`` |
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

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

    def delta(self) -> timedelta | None:
        """The fixed period of ``Minute`` / ``Hour`` and every-N-weeks recurrences; ``None`` for the others."""
        if self.frequency == "Minute":
            return timedelta(minutes=self.interval)
        if self.frequency == "Hour":
            return timedelta(hours=self.interval)
        if self.frequency == "Week" and self.interval != 1:
            return timedelta(weeks=self.interval)
        return None

    def cron_expression(self) -> str | None:
        """The cron expression (in ``time_zone``) of day, week and month recurrences; ``None`` for periods."""
        if self.delta() is not None:
            return None
        minute, hour = self._times()
        if self.frequency == "Day":
            days = "*" if self.interval == 1 else f"*/{self.interval}"
            return f"{minute} {hour} {days} * *"
        if self.frequency == "Week":
            if self.week_days:
                week_days = ",".join(CRON_DAYS[d] for d in self.week_days)
            else:
                week_days = CRON_DAYS[WEEK_DAYS[(self.start_time or datetime(2000, 1, 3)).weekday()]]
            return f"{minute} {hour} * * {week_days}"
        day = (self.start_time or datetime(2000, 1, 1)).day
        months = "*" if self.interval == 1 else f"*/{self.interval}"
        return f"{minute} {hour} {day} {months} *"

    def to_timetable(self) -> Any:
        """The Airflow timetable that fires at this recurrence's times."""
        from airflow.sdk import CronTriggerTimetable, DeltaTriggerTimetable

        delta = self.delta()
        if delta is not None:
            return DeltaTriggerTimetable(delta)
        # A new schedule waits for its next time, as Azure's does. (Airflow treats run_immediately=False
        # like None: a daily 06:30 schedule unpaused at 08:00 would fire the 06:30 run at once.)
        return CronTriggerTimetable(
            str(self.cron_expression()), timezone=self.time_zone, run_immediately=timedelta(0)
        )

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScheduleRecurrence:
        return cls(**data)

    def start_at(self) -> datetime | None:
        """``start_time`` as an aware datetime (a naive one is read in ``time_zone``)."""
        if self.start_time is None or self.start_time.tzinfo is not None:
            return self.start_time
        return self.start_time.replace(tzinfo=ZoneInfo(self.time_zone))

    def latest_due(self, after: datetime, until: datetime, anchor: datetime) -> datetime | None:
        """The latest fire time in ``(after, until]`` (UTC), or ``None``: what a runner ticking at
        ``until`` fires when the last thing it fired was at ``after`` (missed times collapse into one).

        Azure's rules: periods count from ``start_time`` (its first run), or from ``anchor`` (the
        schedule's creation) without one; a pattern recurrence first runs at its next time after
        ``start_time``.
        """
        start = self.start_at()
        delta = self.delta()
        if delta is not None:
            origin = start or anchor
            if until < origin:
                return None
            latest = origin + ((until - origin) // delta) * delta
        else:
            from croniter import croniter

            expression = self.cron_expression()
            assert expression is not None
            times = croniter(expression, (until + timedelta(seconds=1)).astimezone(ZoneInfo(self.time_zone)))
            latest = times.get_prev(datetime)
            while latest > until:
                latest = times.get_prev(datetime)
            if start is not None and latest <= start:
                return None
        return latest.astimezone(UTC) if latest > after else None

    def __or__(self, other: Any) -> Any:
        from airflow_mlw.pipelines.schedules.airflow import combine_schedules

        return combine_schedules(self, other)

    def __ror__(self, other: Any) -> Any:
        from airflow_mlw.pipelines.schedules.airflow import combine_schedules

        return combine_schedules(other, self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ScheduleRecurrence) and self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        return f"ScheduleRecurrence({self.to_json()!r})"
