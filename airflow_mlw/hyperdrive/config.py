"""``HyperDriveConfig``: what a sweep runs, how it samples, when it stops (Azure's names).

Checked when built, as Azure does: a Bayesian sweep takes no early-termination policy, and
``max_concurrent_runs`` above ``max_total_runs`` is clamped with a log line.
"""

from __future__ import annotations

import json
import logging
from enum import StrEnum
from typing import Any

from airflow_mlw.hyperdrive.parameters import HyperDriveConfigError
from airflow_mlw.hyperdrive.policies import EarlyTerminationPolicy, NoTerminationPolicy
from airflow_mlw.hyperdrive.sampling import HyperParameterSampling

log = logging.getLogger(__name__)


class PrimaryMetricGoal(StrEnum):
    """Whether the primary metric is to be maximised or minimised."""

    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


class HyperDriveConfig:
    """A hyperparameter sweep of one script (Azure's ``HyperDriveConfig``).

    :param hyperparameter_sampling: a ``RandomParameterSampling``, ``GridParameterSampling`` or
        ``BayesianParameterSampling``
    :param primary_metric_name: the metric (``run.log``) the trials are ranked by
    :param primary_metric_goal: ``PrimaryMetricGoal.MAXIMIZE`` or ``MINIMIZE``
    :param max_total_runs: trials at most (a grid also stops when it is exhausted)
    :param max_concurrent_runs: trials at once (default: ``max_total_runs``)
    :param max_duration_minutes: the sweep's time limit; trials still running then are canceled
    :param policy: an early-termination policy (``None``: none)
    :param run_config: the trial's ``ScriptRunConfig`` (``estimator=`` takes an ``Estimator``)
    """

    def __init__(
        self,
        hyperparameter_sampling: HyperParameterSampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal | str,
        max_total_runs: int | None = None,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: float | None = 10080,
        policy: EarlyTerminationPolicy | None = None,
        estimator: Any = None,
        run_config: Any = None,
        resume_from: Any = None,
        resume_child_runs: Any = None,
        pipeline: Any = None,
        debug_flag: Any = None,
        custom_run_id: Any = None,
        **_azure_only: Any,
    ) -> None:
        if not isinstance(hyperparameter_sampling, HyperParameterSampling):
            raise HyperDriveConfigError(
                "hyperparameter_sampling must be a RandomParameterSampling, GridParameterSampling or "
                f"BayesianParameterSampling, not {type(hyperparameter_sampling).__name__}"
            )
        if (estimator is None) == (run_config is None):
            raise HyperDriveConfigError("HyperDriveConfig takes exactly one of run_config and estimator")
        if not isinstance(primary_metric_name, str) or not primary_metric_name:
            raise HyperDriveConfigError("primary_metric_name must name the metric the script logs")
        try:
            goal = PrimaryMetricGoal(getattr(primary_metric_goal, "value", primary_metric_goal))
        except ValueError:
            raise HyperDriveConfigError(
                f"primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE or MINIMIZE, not {primary_metric_goal!r}"
            ) from None
        if policy is not None and not isinstance(policy, EarlyTerminationPolicy):
            raise HyperDriveConfigError(
                f"policy must be an early-termination policy, not {type(policy).__name__}"
            )
        if (
            not hyperparameter_sampling.supports_early_termination
            and policy is not None
            and not isinstance(policy, NoTerminationPolicy)
        ):
            raise HyperDriveConfigError(
                f"Bayesian sampling does not support early termination: policy {type(policy).__name__} "
                "must be None or NoTerminationPolicy (as in Azure)"
            )
        grid_size = hyperparameter_sampling.max_configurations()
        if max_total_runs is None:
            if grid_size is None:
                raise HyperDriveConfigError("max_total_runs is required for random and Bayesian sampling")
            max_total_runs = grid_size
        for name, value in (("max_total_runs", max_total_runs), ("max_concurrent_runs", max_concurrent_runs)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise HyperDriveConfigError(f"{name} must be a positive integer, got {value!r}")
        if max_concurrent_runs is None:
            max_concurrent_runs = max_total_runs
        elif max_concurrent_runs > max_total_runs:
            log.warning(
                "max_concurrent_runs %d is more than max_total_runs %d: it is set to %d",
                max_concurrent_runs,
                max_total_runs,
                max_total_runs,
            )
            max_concurrent_runs = max_total_runs
        if max_duration_minutes is not None and (
            not isinstance(max_duration_minutes, int | float) or max_duration_minutes <= 0
        ):
            raise HyperDriveConfigError(
                f"max_duration_minutes must be a positive number, got {max_duration_minutes!r}"
            )
        self._sampling = hyperparameter_sampling
        self._primary_metric_name = primary_metric_name
        self._primary_metric_goal = goal
        self._max_total_runs = max_total_runs
        self._max_concurrent_runs = max_concurrent_runs
        self._max_duration_minutes = max_duration_minutes
        self._policy = policy or NoTerminationPolicy()
        self.run_config = run_config if run_config is not None else estimator
        self.estimator = estimator

    # -- Azure's read-only attributes ----------------------------------------------------------------

    @property
    def hyperparameter_sampling(self) -> HyperParameterSampling:
        return self._sampling

    @property
    def primary_metric_name(self) -> str:
        return self._primary_metric_name

    @property
    def primary_metric_goal(self) -> PrimaryMetricGoal:
        return self._primary_metric_goal

    @property
    def maximize(self) -> bool:
        return self._primary_metric_goal is PrimaryMetricGoal.MAXIMIZE

    @property
    def max_total_runs(self) -> int:
        return self._max_total_runs

    @property
    def max_concurrent_runs(self) -> int:
        return self._max_concurrent_runs

    @property
    def max_duration_minutes(self) -> float | None:
        return self._max_duration_minutes

    @property
    def policy(self) -> EarlyTerminationPolicy:
        return self._policy

    @property
    def source_directory(self) -> str:
        return str(self.run_config.source_directory)

    def sweep_definition(self) -> dict[str, Any]:
        """The sweep's settings as plain JSON values: kept with the sweep's run (its controller
        resumes from them) and, for a ``HyperDriveStep``, part of the reuse key."""
        return {
            "sampling": json.loads(self._sampling.definition_text()),
            "seed": self._sampling.seed,
            "policy": self._policy.definition(),
            "primary_metric_name": self._primary_metric_name,
            "primary_metric_goal": self._primary_metric_goal.value,
            "max_total_runs": self._max_total_runs,
            "max_concurrent_runs": self._max_concurrent_runs,
            "max_duration_minutes": self._max_duration_minutes,
        }
