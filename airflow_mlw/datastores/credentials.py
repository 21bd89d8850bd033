"""Credentials passed Azure-style (an account key, a SAS token) are stored Fernet-encrypted and masked
in logs; they never reach the registry, XCom or messages in clear text.

The key is Airflow's ``[core] fernet_key``. On the embedded default (SQLite registry under the mlw
home) a machine where no Airflow command has run yet has none; then a workspace-local key is made
once and kept at ``<mlw home>/fernet.key`` (mode 0600). Decryption tries every key there is, so a
secret stored before Airflow got its own key still opens afterwards.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from airflow_mlw.exceptions import ConfigError, MlwError

LOCAL_KEY_FILE = "fernet.key"


class FernetKeyError(ConfigError):
    """No usable Fernet key to store a credential with (Airflow's ``[core] fernet_key`` is unset or invalid)."""


def _airflow_fernet() -> tuple[Any, str]:
    """Airflow's Fernet, or ``None`` and why it cannot be used (never the key itself)."""
    from airflow.sdk.crypto import get_fernet
    from airflow.sdk.exceptions import AirflowException

    try:
        fernet = get_fernet()
    except AirflowException:
        return None, "is not a valid Fernet key"
    if not getattr(fernet, "is_encrypted", False):
        return None, "is empty"
    return fernet, ""


def _is_embedded(settings: Any) -> bool:
    """The embedded default: the registry is the SQLite file under the mlw home."""
    return bool(settings.registry_url == f"sqlite:///{Path(settings.home) / 'registry.db'}")


def _local_fernet(home: Path, create: bool) -> Any:
    """The workspace-local Fernet under the mlw home (made on first use when ``create``)."""
    from cryptography.fernet import Fernet

    path = home / LOCAL_KEY_FILE
    if not path.is_file():
        if not create:
            return None
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def _settings(workspace: Any) -> Any:
    if workspace is not None:
        return workspace.settings
    from airflow_mlw.config import load_settings

    return load_settings()


def _fernets(workspace: Any, for_writing: bool) -> list[Any]:
    """Keys to use, the one to encrypt with first."""
    fernet, problem = _airflow_fernet()
    settings = _settings(workspace)
    local = _local_fernet(Path(settings.home), create=False) if _is_embedded(settings) else None
    if fernet is not None:
        return [fernet, *([local] if local is not None else [])]
    if _is_embedded(settings):
        return [local if local is not None else _local_fernet(Path(settings.home), create=for_writing)]
    raise FernetKeyError(
        f"storing an account key or SAS token needs Airflow's [core] fernet_key, which {problem} here "
        f"(registry {settings.registry_url.split('://', 1)[0]}, not the embedded default). Set the same key "
        "on every Airflow component: [core] fernet_key in airflow.cfg or AIRFLOW__CORE__FERNET_KEY, made with "
        "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`; "
        "or register the datastore with conn_id= of an Airflow connection"
    )


def mask(*secrets: str | None) -> None:
    """Redact these values from every log line Airflow writes from now on."""
    from airflow.sdk.log import mask_secret

    for secret in secrets:
        if secret:
            mask_secret(secret)


def encrypt_secret(values: dict[str, str], workspace: Any = None) -> str:
    """``values`` as one Fernet token (Airflow's key, else the embedded workspace's own)."""
    mask(*values.values())
    return str(_fernets(workspace, for_writing=True)[0].encrypt(json.dumps(values).encode()).decode())


def decrypt_secret(token: str, workspace: Any = None) -> dict[str, str]:
    for fernet in _fernets(workspace, for_writing=False):
        if fernet is None:
            continue
        try:
            values = json.loads(fernet.decrypt(token.encode()))
        except Exception:
            continue
        mask(*values.values())
        return dict(values)
    raise MlwError("cannot decrypt a stored datastore credential: was [core] fernet_key changed?") from None
