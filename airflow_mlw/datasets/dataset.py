"""Shim: the dataset classes moved to ``base``, ``file_dataset``, ``tabular_dataset``, ``factory`` and
``snapshot`` next to this module; their names stay importable here (old pickles reference them)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "AbstractDataset": "airflow_mlw.datasets.base",
        "MAX_NAMED_PATHS": "airflow_mlw.datasets.base",
        "FileDataset": "airflow_mlw.datasets.file_dataset",
        "MountContext": "airflow_mlw.datasets.file_dataset",
        "TabularDataset": "airflow_mlw.datasets.tabular_dataset",
        "Dataset": "airflow_mlw.datasets.factory",
        "SNAPSHOT_PREFIX": "airflow_mlw.datasets.snapshot",
        "DatasetDriftError": "airflow_mlw.exceptions",
        "DatasetError": "airflow_mlw.exceptions",
    },
)
