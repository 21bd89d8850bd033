-- Separate databases for Airflow's metadata and the airflow_mlw registry.
CREATE DATABASE mlw_registry OWNER airflow;
