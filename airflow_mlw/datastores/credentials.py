"""Credentials passed Azure-style (an account key, a SAS token) are stored Fernet-encrypted with
Airflow's key and masked in logs; they never reach the registry, XCom or messages in clear text."""

from __future__ import annotations

import json
from typing import Any

from airflow_mlw.exceptions import MlwError


def _fernet() -> Any:
    from airflow.sdk.crypto import get_fernet

    fernet = get_fernet()
    if not getattr(fernet, "is_encrypted", False):
        raise MlwError(
            "storing an account key or SAS token needs Airflow's [core] fernet_key "
            "(AIRFLOW__CORE__FERNET_KEY); set it, or register the datastore with conn_id= of an Airflow connection"
        )
    return fernet


def mask(*secrets: str | None) -> None:
    """Redact these values from every log line Airflow writes from now on."""
    from airflow.sdk.log import mask_secret

    for secret in secrets:
        if secret:
            mask_secret(secret)


def encrypt_secret(values: dict[str, str]) -> str:
    mask(*values.values())
    return str(_fernet().encrypt(json.dumps(values).encode()).decode())


def decrypt_secret(token: str) -> dict[str, str]:
    try:
        values = json.loads(_fernet().decrypt(token.encode()))
    except MlwError:
        raise
    except Exception:
        raise MlwError(
            "cannot decrypt a stored datastore credential: was [core] fernet_key changed?"
        ) from None
    mask(*values.values())
    return dict(values)
