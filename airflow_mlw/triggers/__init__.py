"""Airflow triggers (thin: the logic lives in the concept packages)."""
