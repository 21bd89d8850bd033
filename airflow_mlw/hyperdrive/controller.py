"""The sweep's controller: asks Optuna for each configuration, starts it as a child run of the
sweep on the compute target (through a trial launcher, ``hyperdrive.trials``), applies the policy
to the primary metric as it is logged, tells Optuna how each trial ended, and stops at
``max_total_runs``, an exhausted grid, ``max_duration_minutes`` or a cancel of the sweep's run.

Everything it decides is written to the registry as it goes: the sweep's row keeps its settings
and each trial (number, sampled values, status, best value) under ``properties["hyperdrive"]``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from airflow_mlw.execution import records
from airflow_mlw.hyperdrive.config import HyperDriveConfig
from airflow_mlw.hyperdrive.policies import TruncationSelectionPolicy
from airflow_mlw.hyperdrive.trials import SupervisorLost
from airflow_mlw.registry.rows import RunRow

log = logging.getLogger(__name__)

#: Seconds between two looks at the running trials (their metrics files and threads).
POLL_SECONDS = 0.05
#: Length of a registry run id.
MAX_RUN_ID = 32
#: Seconds between two reads of the sweep's own status (a cancel from another process).
STATUS_SECONDS = 0.5


@dataclass
class Trial:
    number: int
    run_id: str
    hyperparameters: dict[str, Any]
    internal: dict[str, Any]
    #: Optuna's trial (a number: a trial an earlier attempt started, added to the study as running).
    optuna_trial: Any
    handle: Any = None
    reports: list[float] = field(default_factory=list)
    stopping: str | None = None
    status: str = "Running"
    best: float | None = None
    error: str | None = None
    #: Optuna's own attributes of the trial (a grid's point), kept so a resumed sweep restores them.
    system_attrs: dict[str, Any] = field(default_factory=dict)


def trial_run_id(sweep_run_id: str, number: int) -> str:
    """A trial's run id: the sweep's with the trial number (Azure's ``HD_<id>_<n>``); a sweep id
    with no room for it (a step run's) stands in as ``HD_<its hash>``."""
    if len(sweep_run_id) + 1 + len(str(number)) > MAX_RUN_ID:
        sweep_run_id = f"HD_{hashlib.sha256(sweep_run_id.encode()).hexdigest()[:24]}"
    return f"{sweep_run_id}_{number}"


class Sweep:
    """One sweep of ``config`` under the run ``run_id``, its trials started by ``launcher``.

    :param ends_run: set the run's final status (a HyperDriveStep's operator sets it itself,
        once the outputs are committed)
    """

    def __init__(
        self,
        workspace: Any,
        run_id: str,
        config: HyperDriveConfig,
        launcher: Any,
        ends_run: bool = True,
        recorded: dict[str, Any] | None = None,
    ) -> None:
        self.workspace = workspace
        self.run_id = run_id
        self.config = config
        self.launcher = launcher
        self.ends_run = ends_run
        #: Trials an earlier attempt of the sweep recorded (``properties["hyperdrive"]["trials"]``).
        self.recorded = dict(recorded or {})
        self.trials: list[Trial] = []
        self.error: str | None = None
        self._stop_reason: str | None = None

    def stop(self, reason: str) -> None:
        """Stop the sweep from outside its loop (a killed task): running trials are stopped now."""
        self._stop_reason = reason
        self._stop_all(reason)

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> str:
        """Run the sweep to its end; returns the sweep's final status."""
        try:
            status = self._loop()
        except SupervisorLost:
            log.error(
                "sweep %s: its task lost its supervisor; the trials go on for the task's retry", self.run_id
            )
            raise
        except Exception as error:
            log.exception("sweep %s failed", self.run_id)
            self.error = f"{type(error).__name__}: {error}"
            self._stop_all("the sweep failed")
            status = "Failed"
        self._finish(status)
        return status

    def _loop(self) -> str:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        config = self.config
        sampling = config.hyperparameter_sampling
        study = optuna.create_study(
            direction="maximize" if config.maximize else "minimize", sampler=sampling.optuna_sampler()
        )
        expressions = sampling.expressions
        distributions = {name: expression.distribution() for name, expression in expressions.items()}
        total = min(config.max_total_runs, sampling.max_configurations() or config.max_total_runs)
        deadline = (
            time.monotonic() + config.max_duration_minutes * 60 if config.max_duration_minutes else math.inf
        )
        running = {t.run_id: t for t in self._resume(study, distributions)}
        next_status_check = 0.0
        while True:
            now = time.monotonic()
            if now >= next_status_check:
                next_status_check = now + STATUS_SECONDS
                if self._stop_reason or self._sweep_status() == "Canceled":
                    log.info("sweep %s canceled: stopping %d running trial(s)", self.run_id, len(running))
                    self._stop_all(self._stop_reason or "the sweep was canceled")
                    self._drain(running, study)
                    return "Canceled"
            if now >= deadline:
                log.info(
                    "sweep %s reached max_duration_minutes=%s: canceling %d running trial(s)",
                    self.run_id,
                    config.max_duration_minutes,
                    len(running),
                )
                self._stop_all(f"max_duration_minutes={config.max_duration_minutes} reached")
                self._drain(running, study)
                return "Finished"
            while (
                self.error is None and len(running) < config.max_concurrent_runs and len(self.trials) < total
            ):
                trial = self._start(study, distributions, expressions)
                running[trial.run_id] = trial
            reported = [self._read_reports(trial) for trial in list(running.values())]
            if any(reported):
                self._apply_policy()
            for trial in list(running.values()):
                ended = self.launcher.outcome(trial.handle)
                if ended is None:
                    if trial.stopping:
                        self.launcher.stop(trial.handle)
                    continue
                del running[trial.run_id]
                self._ended(trial, ended[0], ended[1], study)
                if self.error is not None:
                    self._stop_all("the sweep failed")
            if not running and (self.error is not None or len(self.trials) >= total):
                break
            time.sleep(POLL_SECONDS)
        if self.error is not None:
            return "Failed"
        if self.trials and all(t.status == "Failed" for t in self.trials):
            self.error = f"every trial failed; the first: {self._first_error()}"
            return "Failed"
        return "Finished"

    def _drain(self, running: dict[str, Trial], study: Any) -> None:
        """Wait for the stopped trials to be gone, then record them."""
        while running:
            for trial in list(running.values()):
                self._read_reports(trial)
                ended = self.launcher.outcome(trial.handle)
                if ended is None:
                    self.launcher.stop(trial.handle)
                    continue
                del running[trial.run_id]
                self._ended(trial, ended[0], ended[1], study)
            time.sleep(POLL_SECONDS)

    # -- one trial -----------------------------------------------------------------------------------

    def _start(self, study: Any, distributions: dict[str, Any], expressions: dict[str, Any]) -> Trial:
        optuna_trial = study.ask(distributions)
        internal = dict(optuna_trial.params)
        hyperparameters = {name: expressions[name].value(internal[name]) for name in expressions}
        number = len(self.trials)
        template = self.launcher.template
        run_id = records.create_run(
            self.workspace,
            id=trial_run_id(self.run_id, number),
            kind="script",
            experiment_name=self.launcher.experiment_name,
            parent_id=self.run_id,
            name=template.script,
            status="Queued",
            compute_target=template.target_name,
            tags={"hyperparameters": json.dumps(hyperparameters)},
            properties={},
        )
        trial = Trial(number, run_id, hyperparameters, internal, optuna_trial)
        trial.system_attrs = dict(study._storage.get_trial_system_attrs(optuna_trial._trial_id))
        self.trials.append(trial)
        self._record()
        log.info("trial %s: %s", run_id, " ".join(f"{k} {v}" for k, v in hyperparameters.items()))
        trial.handle = self.launcher.start(run_id, number, hyperparameters)
        return trial

    def _read_reports(self, trial: Trial) -> bool:
        """Take the primary metric's new values of a trial; whether there were any."""
        values = self.launcher.new_values(trial.handle, self.config.primary_metric_name)
        for value in values:
            trial.reports.append(value)
            if trial.optuna_trial is not None and not isinstance(trial.optuna_trial, int):
                trial.optuna_trial.report(value, len(trial.reports))
        return bool(values)

    def _apply_policy(self) -> None:
        """Each running trial judged at its latest evaluation interval, against every trial that
        reported that far (a trial ahead of the others is judged again when they catch up)."""
        policy = self.config.policy
        reports = {t.run_id: t.reports for t in self.trials if t.reports}
        finished = {t.run_id for t in self.trials if t.status != "Running"}
        for trial in self.trials:
            if trial.status != "Running" or trial.stopping:
                continue
            step = next((k for k in range(len(trial.reports), 0, -1) if policy.evaluates_at(k)), None)
            if step is None:
                continue
            if isinstance(policy, TruncationSelectionPolicy):
                chosen = policy.to_cancel(trial.run_id, step, reports, self.config.maximize, finished)
            else:
                chosen = policy.to_cancel(trial.run_id, step, reports, self.config.maximize)
            for other in self.trials:
                if other.run_id in chosen and other.status == "Running" and not other.stopping:
                    value = other.reports[step - 1]
                    metric = self.config.primary_metric_name
                    other.stopping = f"{type(policy).__name__} at interval {step}: {metric}={value:g}"
                    log.info("canceling trial %s: %s", other.run_id, other.stopping)
                    self.launcher.stop(other.handle)

    def _ended(self, trial: Trial, outcome: str, error: str | None, study: Any) -> None:
        import optuna

        metric = self.config.primary_metric_name
        logged = records.fold_metrics(records.load_metrics(self.workspace, trial.run_id))
        series = logged.get(metric)
        values = [
            float(v) for v in (series if isinstance(series, list) else [series]) if isinstance(v, int | float)
        ]
        trial.reports = values or trial.reports
        if trial.reports:
            trial.best = max(trial.reports) if self.config.maximize else min(trial.reports)
        if trial.stopping:
            trial.status = "Canceled"
            records.set_status(
                self.workspace, trial.run_id, "Canceled", properties={"canceled": trial.stopping}
            )
            study.tell(trial.optuna_trial, state=optuna.trial.TrialState.PRUNED)
        elif outcome == "Finished":
            trial.status = "Finished"
            if trial.best is None:
                names = ", ".join(sorted(logged)) or "no metrics"
                self.error = (
                    f"primary metric {metric!r} was not logged by trial {trial.run_id} "
                    f"(it logged: {names}); the sweep cannot rank its trials"
                )
                log.error("sweep %s: %s", self.run_id, self.error)
                self._tell(study, trial, optuna.trial.TrialState.FAIL)
            else:
                self._tell(study, trial, optuna.trial.TrialState.COMPLETE)
        else:
            trial.status = "Failed"
            trial.error = error
            log.info("trial %s failed: %s", trial.run_id, error)
            self._tell(study, trial, optuna.trial.TrialState.FAIL)
        self._record()

    def _tell(self, study: Any, trial: Trial, state: Any) -> None:
        """Optuna learns how a trial ended (one of an earlier attempt: added as a finished trial)."""
        import optuna

        value = trial.best if state == optuna.trial.TrialState.COMPLETE else None
        if trial.optuna_trial is not None:
            study.tell(trial.optuna_trial, value, state=state)
            return
        expressions = self.config.hyperparameter_sampling.expressions
        study.add_trial(
            optuna.trial.create_trial(
                state=state,
                value=value,
                params=trial.internal,
                distributions={name: e.distribution() for name, e in expressions.items()},
                # Optuna's own attributes (a grid's point): that point is not drawn again.
                system_attrs=trial.system_attrs,
            )
        )
        if state == optuna.trial.TrialState.RUNNING:  # told how it ended when it ends
            trial.optuna_trial = study.trials[-1].number

    def _resume(self, study: Any, distributions: dict[str, Any]) -> list[Trial]:
        """The trials an earlier attempt recorded: ended ones told to Optuna, the others (their
        DAG runs went on without a controller) watched again. Returns those."""
        import optuna

        states = {
            "Finished": optuna.trial.TrialState.COMPLETE,
            "Failed": optuna.trial.TrialState.FAIL,
            "Canceled": optuna.trial.TrialState.PRUNED,
        }
        watched = []
        for run_id, record in sorted(self.recorded.items(), key=lambda item: item[1]["number"]):
            trial = Trial(record["number"], run_id, record["hyperparameters"], record["internal"], None)
            trial.system_attrs = dict(record.get("system_attrs") or {})
            trial.best = record.get("best_primary_metric")
            records.update_run(self.workspace, run_id, parent_id=self.run_id)
            self.trials.append(trial)
            if record["status"] in states:
                trial.status = record["status"]
                if trial.status == "Finished" and trial.best is None:
                    self._tell(study, trial, states["Failed"])
                else:
                    self._tell(study, trial, states[trial.status])
            else:
                self._tell(study, trial, optuna.trial.TrialState.RUNNING)
                trial.handle = self.launcher.attach(run_id, trial.number, trial.hyperparameters)
                watched.append(trial)
        if self.recorded:
            log.info(
                "sweep %s resumes from %d recorded trial(s), %d of them still running",
                self.run_id,
                len(self.recorded),
                len(watched),
            )
        return watched

    def _stop_all(self, reason: str) -> None:
        for trial in self.trials:
            if trial.status == "Running" and not trial.stopping:
                trial.stopping = reason
                if trial.handle is not None:
                    self.launcher.stop(trial.handle)

    def _first_error(self) -> str:
        return next((t.error or "" for t in self.trials if t.status == "Failed"), "")

    # -- the sweep's row -----------------------------------------------------------------------------

    def _sweep_status(self) -> str | None:
        with self.workspace.store.session() as session:
            row = session.get(RunRow, self.run_id)
            return row.status if row is not None else None

    def _record(self) -> None:
        """The trials so far, under the sweep's ``properties["hyperdrive"]["trials"]``."""
        trials = {
            t.run_id: {
                "number": t.number,
                "hyperparameters": t.hyperparameters,
                "internal": t.internal,
                "status": t.status,
                "best_primary_metric": t.best,
                "system_attrs": t.system_attrs,
                **({"canceled": t.stopping} if t.stopping and t.status == "Canceled" else {}),
            }
            for t in self.trials
        }
        with self.workspace.store.session(write=True) as session:
            row = session.get(RunRow, self.run_id)
            if row is not None:
                properties = dict(row.properties or {})
                properties["hyperdrive"] = {**properties.get("hyperdrive", {}), "trials": trials}
                row.properties = properties

    def _finish(self, status: str) -> None:
        if self._sweep_status() == "Canceled":
            status = "Canceled"
        fields: dict[str, Any] = {}
        if self.error:
            fields["properties"] = {"error": self.error}
        if self.ends_run:
            records.set_status(self.workspace, self.run_id, status, **fields)
        best = [t for t in self.trials if t.best is not None]
        log.info(
            "sweep %s %s: %d trial(s), %d with %s",
            self.run_id,
            status,
            len(self.trials),
            len(best),
            self.config.primary_metric_name,
        )
