"""``azureml.data.datapath`` -> ``airflow_mlw.data.datapath``."""

from airflow_mlw.pipelines.data import DataPath, DataPathComputeBinding

__all__ = ["DataPath", "DataPathComputeBinding"]
