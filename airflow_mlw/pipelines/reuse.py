"""Shim: step reuse moved to :mod:`airflow_mlw.execution.reuse` (kept so old imports work)."""

from __future__ import annotations

from airflow_mlw._lazy import lazy_exports

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        name: "airflow_mlw.execution.reuse"
        for name in (
            "KEY_SCHEMA",
            "IGNORE_FILES",
            "ignore_patterns",
            "ignored",
            "source_tree",
            "key_document",
            "canonical",
            "reuse_key",
            "explain",
            "find_hit",
            "last_run_of_step",
            "acquire_lease",
            "release_lease",
            "wait_for_flight",
        )
    },
)
