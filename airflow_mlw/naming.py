"""Names made safe for Airflow ids (DAG ids, task ids, run ids): one rule, one place."""

from __future__ import annotations

import re

#: Characters Airflow accepts in DAG and task ids.
ID_CHARACTERS = "A-Za-z0-9_.-"
#: Characters Airflow accepts in DAG run ids (ids it makes itself hold ``:`` and ``+``).
RUN_ID_CHARACTERS = ID_CHARACTERS + "~:+"


_ID_PUNCTUATION = str.maketrans("", "", "_.-")


def safe_id(text: str, allowed: str = ID_CHARACTERS, collapse: bool = False) -> str:
    """``text`` with each character outside ``allowed`` replaced by ``_`` (``collapse``: each run of them)."""
    if allowed == ID_CHARACTERS and text.isascii() and text.translate(_ID_PUNCTUATION).isalnum():
        return text  # already an id, as most step names are: no pattern to compile when a DAG is parsed
    return re.sub(f"[^{allowed}]{'+' if collapse else ''}", "_", text)


#: Names of registered objects (datasets, models, environments, experiments, drift monitors):
#: Azure's characters — letters, digits, ``_``, ``-``, ``.`` and spaces inside — starting with a
#: letter or digit, at most 255 characters. No ``/``, quotes or other punctuation, so a name is
#: safe in file paths, Asset URIs and UI routes as it is.
REGISTERED_NAME_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9_. -]{0,253}[A-Za-z0-9_.-])?"


def registered_name_problem(name: object, what: str) -> str | None:
    """Why ``name`` is not a valid name for a registered ``what``, or ``None`` when it is."""
    if isinstance(name, str) and re.fullmatch(REGISTERED_NAME_PATTERN, name):
        return None
    return (
        f"{what} name {name!r} is invalid: use letters, digits, '-', '_', '.' and spaces, starting "
        "with a letter or digit (at most 255 characters)"
    )
