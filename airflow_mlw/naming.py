"""Names made safe for Airflow ids (DAG ids, task ids, run ids): one rule, one place."""

from __future__ import annotations

import re

#: Characters Airflow accepts in DAG and task ids.
ID_CHARACTERS = "A-Za-z0-9_.-"
#: Characters Airflow accepts in DAG run ids (ids it makes itself hold ``:`` and ``+``).
RUN_ID_CHARACTERS = ID_CHARACTERS + "~:+"


def safe_id(text: str, allowed: str = ID_CHARACTERS, collapse: bool = False) -> str:
    """``text`` with each character outside ``allowed`` replaced by ``_`` (``collapse``: each run of them)."""
    return re.sub(f"[^{allowed}]{'+' if collapse else ''}", "_", text)
