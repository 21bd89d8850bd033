"""The ``[mlw]`` settings and workspace discovery.

Discovery order for :meth:`Workspace.from_config` (DESIGN.md §3): ``$MLW_CONFIG``,
``./.mlw/config.json``, ``./config.json`` with an ``mlw`` block, then the ``[mlw]`` section of
Airflow's config; with none of them, the embedded default (SQLite registry and a local datastore
under ``$AIRFLOW_HOME/mlw``). Values in a file win over ``[mlw]``, which wins over the defaults.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from airflow_mlw.exceptions import ConfigError

DEFAULT_WORKSPACE_NAME = "default"
DEFAULT_DATASTORE_NAME = "workspacelocalstore"
DEFAULT_BASE_IMAGE = "mlw-base:bookworm"
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

#: Option name -> (description, example) for the ``[mlw]`` section, shared with provider info.
OPTIONS: dict[str, tuple[str, str]] = {
    "workspace_name": ("Name of the workspace `Workspace.from_config()` opens.", "default"),
    "home": ("Folder for the embedded registry, the local datastore and caches.", "/opt/airflow/mlw"),
    "registry_url": (
        "SQLAlchemy URL of the workspace registry (SQLite file by default, PostgreSQL in production).",
        "postgresql+psycopg2://mlw:***@db/mlw",
    ),
    "default_datastore": ("Name of the workspace's default datastore.", DEFAULT_DATASTORE_NAME),
    "default_base_image": (
        "Base image of environment images built without an explicit base.",
        DEFAULT_BASE_IMAGE,
    ),
    "build_ca_bundle": (
        "CA bundle copied into image builds and named by PIP_CERT (corporate proxies); "
        "default: the host's /etc/ssl/certs/ca-certificates.crt when present.",
        "/etc/ssl/certs/ca-certificates.crt",
    ),
    "pip_index_url": ("Package index used by image and virtualenv builds.", "https://pypi.org/simple"),
    "pip_extra_index_url": ("Extra package index used by builds.", "https://mirror.example/simple"),
    "conda_packages_via": (
        "How image builds install conda packages: `auto` (conda when the channel answers and the base "
        "image has conda or micromamba, else their names from the pip index), `conda` or `pip`.",
        "auto",
    ),
    "api_url": (
        "Airflow api-server base URL; when set, submissions go over REST. Published pipelines' "
        "`.endpoint` URLs are on it (default: Airflow's [api] base_url).",
        "http://localhost:8080",
    ),
    "publish_timeout": (
        "Seconds `publish()` waits for the dag-processor to parse a published pipeline's DAG file.",
        "120",
    ),
}


@dataclass(frozen=True)
class MlwSettings:
    """Resolved settings of one workspace.

    :param workspace_name: the workspace's name in the registry
    :param home: folder for the embedded registry, local datastore and caches
    :param registry_url: SQLAlchemy URL of the registry
    :param source: where these settings came from (a file path, ``[mlw]`` or ``embedded default``)
    """

    workspace_name: str = DEFAULT_WORKSPACE_NAME
    home: str = ""
    registry_url: str = ""
    default_datastore: str = DEFAULT_DATASTORE_NAME
    default_base_image: str = DEFAULT_BASE_IMAGE
    build_ca_bundle: str | None = None
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    conda_packages_via: str = "auto"
    api_url: str | None = None
    publish_timeout: float = 120.0
    source: str = field(default="embedded default", compare=False)

    @property
    def data_root(self) -> Path:
        """Root folder of the built-in local datastore."""
        return Path(self.home) / "data"


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME") or Path.home() / "airflow").expanduser()


def _airflow_section() -> dict[str, str]:
    """``[mlw]`` values of Airflow's config that differ from the defaults; env variables where Airflow is absent."""
    try:
        from airflow.configuration import conf
    except ImportError:
        prefix = "AIRFLOW__MLW__"
        return {k[len(prefix) :].lower(): v for k, v in os.environ.items() if k.startswith(prefix) and v}
    defaults = MlwSettings()
    values = {}
    for key in OPTIONS:
        value = conf.get("mlw", key, fallback=None)
        if value not in (None, "") and value != getattr(defaults, key):
            values[key] = value
    return values


def _read_json(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read workspace config file {path}: {exc.strerror}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"malformed workspace config file {path}: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"malformed workspace config file {path}: expected a JSON object")
    return data


def _file_values(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Settings from a config file: an ``mlw`` block, or top-level keys (Azure's ``workspace_name``)."""
    block = data.get("mlw")
    if block is not None and not isinstance(block, dict):
        raise ConfigError(f"malformed workspace config file {path}: 'mlw' must be a JSON object")
    values: dict[str, Any] = {k: v for k, v in data.items() if k in OPTIONS}
    values.update(block or {})
    unknown = sorted(set(values) - set(OPTIONS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)} in workspace config file {path}")
    return values


def find_config_file(path: str | os.PathLike[str] | None = None) -> tuple[Path, dict[str, Any]] | None:
    """Locate the config file per the discovery order; ``None`` means Airflow's ``[mlw]`` or defaults."""
    if path is not None:
        candidate = Path(path).expanduser()
        if candidate.is_dir():
            for inner in (candidate / ".mlw" / "config.json", candidate / "config.json"):
                if inner.is_file():
                    return inner, _read_json(inner)
            raise ConfigError(f"no .mlw/config.json or config.json in {candidate}")
        return candidate, _read_json(candidate)
    env_path = os.environ.get("MLW_CONFIG")
    if env_path:
        candidate = Path(env_path).expanduser()
        return candidate, _read_json(candidate)
    local = Path(".mlw") / "config.json"
    if local.is_file():
        return local.resolve(), _read_json(local)
    azure_style = Path("config.json")
    if azure_style.is_file():
        data = _read_json(azure_style)
        if "mlw" in data:
            return azure_style.resolve(), data
    return None


def load_settings(path: str | os.PathLike[str] | None = None, **overrides: Any) -> MlwSettings:
    """Resolve settings: file (explicit ``path`` or discovered) over ``[mlw]`` over defaults.

    :param path: a config file or a folder holding ``.mlw/config.json`` / ``config.json``
    :param overrides: values that win over every source (``None`` values are ignored)
    """
    values: dict[str, Any] = dict(_airflow_section())
    source = "airflow config [mlw]" if values else "embedded default"
    found = find_config_file(path)
    if found is not None:
        file_path, data = found
        values.update(_file_values(file_path, data))
        source = str(file_path)
    values.update({k: v for k, v in overrides.items() if v is not None})
    home = Path(values.get("home") or airflow_home() / "mlw").expanduser()
    values["home"] = str(home)
    values.setdefault("registry_url", f"sqlite:///{home / 'registry.db'}")
    # The host's trust store goes into image builds unless told otherwise (corporate proxy CAs).
    if "build_ca_bundle" not in values and Path(SYSTEM_CA_BUNDLE).is_file():
        values["build_ca_bundle"] = SYSTEM_CA_BUNDLE
    names = {f.name for f in fields(MlwSettings)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"unknown [mlw] setting(s): {', '.join(unknown)}")
    if values.get("conda_packages_via", "auto") not in ("auto", "conda", "pip"):
        raise ConfigError(
            f"[mlw] conda_packages_via must be 'auto', 'conda' or 'pip', not {values['conda_packages_via']!r}"
        )
    if "publish_timeout" in values:
        given = values["publish_timeout"]
        try:
            values["publish_timeout"] = float(given)
        except (TypeError, ValueError):
            values["publish_timeout"] = -1.0
        if not values["publish_timeout"] > 0:
            raise ConfigError(f"[mlw] publish_timeout must be a positive number of seconds, not {given!r}")
    return replace(MlwSettings(), source=source, **values)
