"""DAGs shipped with airflow_mlw, built by factory functions that a file in the DAGs folder calls."""
