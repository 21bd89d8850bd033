"""Airflow operators of airflow_mlw: thin wrappers that resolve everything in ``execute()``."""
