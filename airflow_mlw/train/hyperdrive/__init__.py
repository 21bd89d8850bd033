"""Azure-style façade (``azureml.train.hyperdrive`` -> ``airflow_mlw.train.hyperdrive``); re-exports
only, lazily (Optuna is imported when a sweep samples)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

_PARAMETERS = "airflow_mlw.hyperdrive.parameters"
_SAMPLING = "airflow_mlw.hyperdrive.sampling"
_POLICIES = "airflow_mlw.hyperdrive.policies"

__all__ = [
    "BanditPolicy",
    "BayesianParameterSampling",
    "EarlyTerminationPolicy",
    "GridParameterSampling",
    "HyperDriveConfig",
    "HyperDriveConfigError",
    "HyperDriveRun",
    "HyperParameterSampling",
    "MedianStoppingPolicy",
    "NoTerminationPolicy",
    "PrimaryMetricGoal",
    "RandomParameterSampling",
    "TruncationSelectionPolicy",
    "choice",
    "lognormal",
    "loguniform",
    "normal",
    "qlognormal",
    "qloguniform",
    "qnormal",
    "quniform",
    "randint",
    "uniform",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **{
            name: _PARAMETERS
            for name in (
                "choice",
                "randint",
                "uniform",
                "quniform",
                "loguniform",
                "qloguniform",
                "normal",
                "qnormal",
                "lognormal",
                "qlognormal",
                "HyperDriveConfigError",
            )
        },
        "HyperParameterSampling": _SAMPLING,
        "RandomParameterSampling": _SAMPLING,
        "GridParameterSampling": _SAMPLING,
        "BayesianParameterSampling": _SAMPLING,
        "EarlyTerminationPolicy": _POLICIES,
        "BanditPolicy": _POLICIES,
        "MedianStoppingPolicy": _POLICIES,
        "TruncationSelectionPolicy": _POLICIES,
        "NoTerminationPolicy": _POLICIES,
        "HyperDriveConfig": "airflow_mlw.hyperdrive.config",
        "PrimaryMetricGoal": "airflow_mlw.hyperdrive.config",
        "HyperDriveRun": "airflow_mlw.hyperdrive.run",
    },
)
