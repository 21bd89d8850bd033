"""Azure-style façade (``azureml.data`` -> ``airflow_mlw.data``): dataset classes and data references; re-exports only, lazily (submodules too)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__all__ = [
    "TabularDataset",
    "FileDataset",
    "DataReference",
    "DatasetConsumptionConfig",
    "OutputFileDatasetConfig",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "TabularDataset": "airflow_mlw.datasets",
        "FileDataset": "airflow_mlw.datasets",
        "DataReference": "airflow_mlw.datastores.reference",
        "DatasetConsumptionConfig": "airflow_mlw.datasets.consumption",
        "OutputFileDatasetConfig": "airflow_mlw.pipelines.data",
    },
    submodules=True,
)
