"""``azureml.exceptions`` names as ``airflow_mlw.core.exceptions``; re-exports only."""

from airflow_mlw.exceptions import (
    ActivityFailedException,
    ComputeTargetException,
    UserErrorException,
    WebserviceException,
)

__all__ = ["ActivityFailedException", "ComputeTargetException", "UserErrorException", "WebserviceException"]
