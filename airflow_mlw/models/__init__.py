"""Models and scoring services: ``Model.register`` / ``Model.deploy``, ``Webservice``.

Lazy exports: scoring containers import ``Model`` (for ``get_model_path``) without SQLAlchemy.
"""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__all__ = ["InferenceConfig", "LocalWebservice", "Model", "Webservice"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Model": "airflow_mlw.models.model",
        "InferenceConfig": "airflow_mlw.models.model",
        "Webservice": "airflow_mlw.models.webservice",
        "LocalWebservice": "airflow_mlw.models.webservice",
    },
)
