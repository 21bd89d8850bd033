"""Azure's curated ``AzureML-*`` names, as v1 code asks for them, resolved to the nearest ``MLW-*`` one.

``Environment.get(ws, "AzureML-Minimal")`` returns ``MLW-minimal`` (and says so in the log);
a name with no near ``MLW-*`` environment is an error listing the curated ones.
"""

from __future__ import annotations

from airflow_mlw.environments.spec import AZURE_CURATED_PREFIX, CURATED
from airflow_mlw.exceptions import MlwEnvironmentError

#: Family (the start of the name after ``AzureML-``, any case) -> the shipped environment.
AZUREML_FAMILIES: tuple[tuple[str, str], ...] = (
    ("minimal", "MLW-minimal"),
    ("tutorial", "MLW-sklearn"),
    ("sklearn", "MLW-sklearn"),
    ("scikit-learn", "MLW-sklearn"),
    ("lightgbm", "MLW-lightgbm"),
    ("pytorch", "MLW-pytorch"),
    ("acpt-pytorch", "MLW-pytorch"),
    ("tensorflow", "MLW-tensorflow"),
)


def is_azureml_name(name: str) -> bool:
    return name.startswith(AZURE_CURATED_PREFIX)


def resolve_azureml_name(name: str) -> str:
    """The ``MLW-*`` environment standing for Azure's curated environment ``name``."""
    rest = name[len(AZURE_CURATED_PREFIX) :].lower()
    for family, curated in AZUREML_FAMILIES:
        after = rest[len(family) : len(family) + 1]
        if rest.startswith(family) and (after in ("", "-") or after.isdigit()):
            return curated
    raise MlwEnvironmentError(
        f"curated environment {name!r} has no counterpart here; the curated environments are "
        f"{', '.join(sorted(CURATED))} (AzureML-Minimal, AzureML-Tutorial and the AzureML-sklearn-*, "
        "-lightgbm-*, -pytorch-*, -tensorflow-* families resolve to them); or define the packages "
        "with Environment(name) and CondaDependencies"
    )
