"""Early-termination policies (Azure's ``BanditPolicy``, ``MedianStoppingPolicy``,
``TruncationSelectionPolicy``, ``NoTerminationPolicy``) as pure rules over the primary metric's
reports.

A policy is applied when a trial reports its ``k``-th value of the primary metric, for every ``k``
that is a multiple of ``evaluation_interval`` and at least ``delay_evaluation`` (Azure's rule).
Trials are compared at that same interval: their ``k``-th reported values.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from airflow_mlw.hyperdrive.parameters import HyperDriveConfigError

#: trial id -> the primary metric's values in reporting order.
Reports = dict[str, list[float]]


class EarlyTerminationPolicy:
    """When to evaluate (``evaluation_interval``, ``delay_evaluation``); subclasses say whom to stop."""

    policy_name = ""

    def __init__(self, evaluation_interval: int = 1, delay_evaluation: int = 0) -> None:
        for name, value, least in (
            ("evaluation_interval", evaluation_interval, 1),
            ("delay_evaluation", delay_evaluation, 0),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise HyperDriveConfigError(
                    f"{type(self).__name__}: {name} must be an integer >= {least}, got {value!r}"
                )
        self.evaluation_interval = evaluation_interval
        self.delay_evaluation = delay_evaluation

    def evaluates_at(self, report: int) -> bool:
        """Whether the policy is applied when a trial reports its ``report``-th value (1-based)."""
        return report >= 1 and report % self.evaluation_interval == 0 and report >= self.delay_evaluation

    def to_cancel(self, trial: str, report: int, reports: Reports, maximize: bool) -> set[str]:
        """The trials to stop now that ``trial`` reported its ``report``-th value."""
        return set()

    def definition(self) -> dict[str, Any]:
        """The policy's settings (the sweep's properties; part of a HyperDriveStep's reuse key)."""
        return {"name": self.policy_name, **{k: v for k, v in vars(self).items() if not k.startswith("_")}}

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.definition().items() if k != "name")
        return f"{type(self).__name__}({settings})"


def _at(reports: Reports, report: int) -> dict[str, float]:
    """Each trial's value at interval ``report`` (trials that reported that far)."""
    return {trial: values[report - 1] for trial, values in reports.items() if len(values) >= report}


class NoTerminationPolicy(EarlyTerminationPolicy):
    """Every trial runs to its end."""

    policy_name = "Default"


class BanditPolicy(EarlyTerminationPolicy):
    """Stop a trial whose value is not within ``slack_factor`` (a ratio) or ``slack_amount`` (an
    absolute distance) of the best value any trial reported at the same interval.

    Maximising: stopped when ``value < best / (1 + slack_factor)`` or ``value < best - slack_amount``;
    minimising: when ``value > best * (1 + slack_factor)`` or ``value > best + slack_amount``.
    """

    policy_name = "Bandit"

    def __init__(
        self,
        evaluation_interval: int = 1,
        slack_factor: float | None = None,
        slack_amount: float | None = None,
        delay_evaluation: int = 0,
    ) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if (slack_factor is None) == (slack_amount is None):
            raise HyperDriveConfigError("BanditPolicy takes exactly one of slack_factor and slack_amount")
        slack = slack_factor if slack_factor is not None else slack_amount
        if not isinstance(slack, int | float) or isinstance(slack, bool) or slack < 0:
            raise HyperDriveConfigError(f"BanditPolicy: the slack must be a number >= 0, got {slack!r}")
        self.slack_factor = slack_factor
        self.slack_amount = slack_amount

    def to_cancel(self, trial: str, report: int, reports: Reports, maximize: bool) -> set[str]:
        values = _at(reports, report)
        best = max(values.values()) if maximize else min(values.values())
        value = values[trial]
        if self.slack_factor is not None:
            bound = best / (1 + self.slack_factor) if maximize else best * (1 + self.slack_factor)
        else:
            bound = best - self.slack_amount if maximize else best + self.slack_amount  # type: ignore[operator]
        worse = value < bound if maximize else value > bound
        return {trial} if worse else set()


class MedianStoppingPolicy(EarlyTerminationPolicy):
    """Stop a trial whose best value so far is worse than the median of the other trials' running
    averages (the mean of their first ``k`` values) at the same interval."""

    policy_name = "MedianStopping"

    def to_cancel(self, trial: str, report: int, reports: Reports, maximize: bool) -> set[str]:
        averages = [
            statistics.fmean(values[:report])
            for other, values in reports.items()
            if other != trial and len(values) >= report
        ]
        if not averages:
            return set()
        own = reports[trial][:report]
        best = max(own) if maximize else min(own)
        median = statistics.median(averages)
        worse = best < median if maximize else best > median
        return {trial} if worse else set()


class TruncationSelectionPolicy(EarlyTerminationPolicy):
    """At each interval, stop the lowest ``truncation_percentage`` percent of the trials that reported
    that far, ranked by their value at that interval."""

    policy_name = "TruncationSelection"

    def __init__(
        self,
        truncation_percentage: int,
        evaluation_interval: int = 1,
        delay_evaluation: int = 0,
        exclude_finished_jobs: bool = False,
    ) -> None:
        super().__init__(evaluation_interval, delay_evaluation)
        if not isinstance(truncation_percentage, int | float) or not 1 <= truncation_percentage <= 99:
            raise HyperDriveConfigError(
                f"TruncationSelectionPolicy: truncation_percentage must be between 1 and 99, got {truncation_percentage!r}"
            )
        self.truncation_percentage = truncation_percentage
        self.exclude_finished_jobs = exclude_finished_jobs

    def to_cancel(
        self, trial: str, report: int, reports: Reports, maximize: bool, finished: set[str] | None = None
    ) -> set[str]:
        values = _at(reports, report)
        if self.exclude_finished_jobs and finished:
            values = {t: v for t, v in values.items() if t not in finished or t == trial}
        count = math.floor(len(values) * self.truncation_percentage / 100)
        ranked = sorted(values, key=lambda t: values[t], reverse=not maximize)  # worst first
        return set(ranked[:count])


POLICIES = (NoTerminationPolicy, BanditPolicy, MedianStoppingPolicy, TruncationSelectionPolicy)
