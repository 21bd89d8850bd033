"""``Environment`` and ``CondaDependencies`` with the Azure ML v1 API.

An environment's spec is its python version, pip and conda packages and channels, base image,
environment variables and Docker run options. The spec hash covers the normalised spec (package
order does not matter); the image tag adds the base image's id (see ``docker_build``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from airflow_mlw.exceptions import MlwEnvironmentError

CURATED_PREFIX = "MLW-"
AZURE_CURATED_PREFIX = "AzureML-"
#: pip names of the airflow_mlw runtime itself; with every ``azureml-*`` name, the runtime mounted
#: into every run provides them, so they are not installed and not part of the spec hash.
RUNTIME_PACKAGES = {"azureml", "airflow-mlw"}
RUNTIME_PREFIXES = ("azureml-", "airflow-mlw-")  # the second as code ported by renaming spells them
#: What an ``azureml-*`` pin installed besides Azure's SDK that scripts written for it import:
#: ``azureml-defaults`` brought pandas (through ``azureml-model-management-sdk``) in the v1
#: releases the DP-100 labs were written for; ``azureml-mlflow`` brings the MLflow client, whose
#: ``mlw://`` plugins the mounted runtime declares. Installed unless the environment names it.
RUNTIME_PIN_BRINGS = {"azureml-defaults": ("pandas",), "azureml-mlflow": ("mlflow-skinny",)}
#: Names that stand for a brought package when the environment lists them instead.
BROUGHT_ALSO_AS = {"mlflow-skinny": ("mlflow",)}
SPEC_FILE = "azureml_environment.json"
CONDA_FILE = "conda_dependencies.yml"


class CondaDependencies:
    """Python version, conda packages and channels, pip packages (Azure's ``CondaDependencies``)."""

    def __init__(
        self,
        conda_dependencies_file_path: str | None = None,
        _underlying_structure: dict[str, Any] | None = None,
    ) -> None:
        self.python_version: str | None = None
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.channels: list[str] = []
        if conda_dependencies_file_path:
            self._load(read_conda_file(conda_dependencies_file_path))
        elif _underlying_structure:
            self._load(_underlying_structure)

    @classmethod
    def create(
        cls,
        pip_indexurl: str | None = None,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        python_version: str | None = None,
        pin_sdk_version: bool = True,
    ) -> CondaDependencies:
        deps = cls()
        deps.python_version = python_version
        for package in conda_packages or []:
            deps.add_conda_package(package)
        for package in pip_packages or []:
            deps.add_pip_package(package)
        return deps

    def _load(self, data: dict[str, Any]) -> None:
        if not isinstance(data, dict):
            raise MlwEnvironmentError("conda specification must be a mapping with 'dependencies'")
        self.channels = [str(c) for c in data.get("channels") or []]
        for item in data.get("dependencies") or []:
            if isinstance(item, dict) and "pip" in item:
                self.pip_packages.extend(str(p) for p in item["pip"] or [])
            elif isinstance(item, str):
                item = strip_build_string(item)
                if item.replace(" ", "").startswith("python") and item.replace(" ", "")[6:7] in (
                    "",
                    "=",
                    "<",
                    ">",
                ):
                    version = item.replace(" ", "")[6:].lstrip("=<>")
                    self.python_version = version or None
                elif re.split(r"[=<>!~ ]", item.strip(), maxsplit=1)[0] != "pip":
                    self.conda_packages.append(item.strip())
            else:
                raise MlwEnvironmentError(f"unexpected conda dependency entry {item!r}")

    def add_pip_package(self, pip_package: str) -> None:
        if pip_package not in self.pip_packages:
            self.pip_packages.append(pip_package)

    def add_conda_package(self, conda_package: str) -> None:
        if conda_package not in self.conda_packages:
            self.conda_packages.append(conda_package)

    def add_channel(self, channel: str) -> None:
        if channel not in self.channels:
            self.channels.append(channel)

    def set_python_version(self, version: str) -> None:
        self.python_version = version

    def serialize_to_string(self) -> str:
        import yaml

        dependencies: list[Any] = []
        if self.python_version:
            dependencies.append(f"python={self.python_version}")
        dependencies.extend(self.conda_packages)
        if self.pip_packages:
            dependencies.append("pip")
            dependencies.append({"pip": list(self.pip_packages)})
        data = {
            "name": "project_environment",
            "channels": self.channels or ["conda-forge"],
            "dependencies": dependencies,
        }
        return str(yaml.safe_dump(data, sort_keys=False))

    def save(self, path: str) -> None:
        Path(path).write_text(self.serialize_to_string())

    def installable_pip_packages(self) -> list[str]:
        """Pip packages to install: all but Azure's runtime packages, which the mounted runtime
        provides, plus what such a pin brought besides Azure's SDK (:data:`RUNTIME_PIN_BRINGS`)
        when the environment does not name it."""
        packages = [p for p in self.pip_packages if not is_runtime_package(p)]
        named = {requirement_name(p) for p in [*packages, *self.conda_packages]}
        for pin in self.runtime_pip_packages():
            for brought in RUNTIME_PIN_BRINGS.get(requirement_name(pin), ()):
                if brought not in named and named.isdisjoint(BROUGHT_ALSO_AS.get(brought, ())):
                    packages.append(brought)
                    named.add(brought)
        return packages

    def runtime_pip_packages(self) -> list[str]:
        """The ``azureml-*`` (and ``airflow_mlw-*``) pins: provided by the mounted runtime."""
        return [p for p in self.pip_packages if is_runtime_package(p)]

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "python_version": self.python_version,
            "conda_packages": sorted(self.conda_packages),
            "pip_packages": sorted(self.installable_pip_packages()),
            "channels": sorted(self.channels),
        }
        runtime = self.runtime_pip_packages()
        if runtime:  # kept for the build log, left out of the spec hash
            spec["runtime_pip_packages"] = sorted(runtime)
        return spec


def requirement_name(requirement: str) -> str:
    """``pandas>=1.0`` / ``pandas=1.1`` (conda) / ``Azureml_Defaults[x]`` -> the normalised name."""
    return re.split(r"[=<>!~\[ ;@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def is_runtime_package(requirement: str) -> bool:
    name = requirement_name(requirement)
    return name.startswith(RUNTIME_PREFIXES) or name in RUNTIME_PACKAGES


def strip_build_string(conda_spec: str) -> str:
    """``numpy=1.21.2=py38h20f2e39_0`` (as ``conda env export`` writes) -> ``numpy=1.21.2``."""
    match = re.fullmatch(r"([^=<>!\s]+)=([^=<>!\s]+)=[^=<>!\s]+", conda_spec.strip())
    return f"{match.group(1)}={match.group(2)}" if match else conda_spec.strip()


def read_conda_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    import yaml

    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise MlwEnvironmentError(f"cannot read conda specification {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise MlwEnvironmentError(
            f"malformed conda specification {path}{where}: {getattr(exc, 'problem', exc)}"
        ) from None
    if not isinstance(data, dict) or "dependencies" not in data:
        raise MlwEnvironmentError(f"malformed conda specification {path}: no 'dependencies' list")
    return data


class PythonSection:
    """``env.python``: dependencies, or an interpreter the user manages."""

    def __init__(self) -> None:
        self.conda_dependencies = CondaDependencies()
        self.user_managed_dependencies = False
        self.interpreter_path: str | None = None
        self.conda_environment_name: str | None = None


class DockerSection:
    """``env.docker``: whether to run in an image, its base image, and run options."""

    def __init__(self) -> None:
        self.enabled = False
        self.base_image: str | None = None
        self.base_dockerfile: str | None = None
        self.arguments: list[str] = []
        self.shm_size: str | None = None


class Environment:
    """A reproducible runtime for scripts (Azure's ``Environment``).

    :param name: the environment's name; names starting with ``MLW-`` (the curated environments
        this project ships) or ``AzureML-`` (Azure's curated names, resolved to ``MLW-`` ones by
        :meth:`get`) are reserved
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.version: int | None = None
        self.python = PythonSection()
        self.docker = DockerSection()
        self.environment_variables: dict[str, str] = {}
        self.image_tag: str | None = None

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def from_conda_specification(cls, name: str, file_path: str) -> Environment:
        env = cls(name)
        env.python.conda_dependencies = CondaDependencies(file_path)
        return env

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str, pip_version: str | None = None) -> Environment:
        try:
            lines = Path(file_path).read_text().splitlines()
        except OSError as exc:
            raise MlwEnvironmentError(f"cannot read requirements file {file_path}: {exc.strerror}") from None
        env = cls(name)
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line:
                env.python.conda_dependencies.add_pip_package(line)
        return env

    @classmethod
    def from_existing_conda_environment(cls, name: str, conda_environment_name: str) -> Environment:
        """The spec of a conda environment on this machine, exported now (``conda env export``).

        As Azure's: the returned environment carries that environment's python version, channels,
        conda and pip packages, so it rebuilds anywhere (in Docker too); a missing ``conda`` or
        conda environment is an ``MlwEnvironmentError`` naming it.
        """
        from airflow_mlw.environments.conda_export import export_conda_environment

        env = cls(name)
        env.python.conda_dependencies = export_conda_environment(conda_environment_name)
        return env

    @classmethod
    def from_existing_python(cls, name: str, python_path: str) -> Environment:
        """Run with an interpreter already on the worker (user-managed dependencies)."""
        env = cls(name)
        env.python.user_managed_dependencies = True
        env.python.interpreter_path = python_path
        return env

    # -- spec --------------------------------------------------------------------------------------

    def spec(self) -> dict[str, Any]:
        """The normalised spec (sorted packages), what the spec hash covers."""
        return {
            "python": {
                **self.python.conda_dependencies.to_spec(),
                "user_managed": bool(self.python.user_managed_dependencies),
                "interpreter_path": self.python.interpreter_path,
                "conda_environment_name": self.python.conda_environment_name,
            },
            "docker": {
                "enabled": bool(self.docker.enabled),
                "base_image": self.docker.base_image,
                "arguments": list(self.docker.arguments),
                "shm_size": self.docker.shm_size,
            },
            "environment_variables": dict(sorted(self.environment_variables.items())),
        }

    @property
    def spec_hash(self) -> str:
        spec = self.spec()
        spec["python"].pop("runtime_pip_packages", None)  # pins of the mounted runtime rebuild nothing
        return spec_hash(spec)

    @classmethod
    def from_spec(cls, name: str, spec: dict[str, Any], version: int | None = None) -> Environment:
        env = cls(name)
        env.version = version
        python = spec.get("python", {})
        deps = CondaDependencies()
        deps.python_version = python.get("python_version")
        deps.conda_packages = list(python.get("conda_packages", []))
        deps.pip_packages = list(python.get("pip_packages", [])) + list(
            python.get("runtime_pip_packages", [])
        )
        deps.channels = list(python.get("channels", []))
        env.python.conda_dependencies = deps
        env.python.user_managed_dependencies = bool(python.get("user_managed"))
        env.python.interpreter_path = python.get("interpreter_path")
        env.python.conda_environment_name = python.get("conda_environment_name")
        docker = spec.get("docker", {})
        env.docker.enabled = bool(docker.get("enabled"))
        env.docker.base_image = docker.get("base_image")
        env.docker.arguments = list(docker.get("arguments", []))
        env.docker.shm_size = docker.get("shm_size")
        env.environment_variables = dict(spec.get("environment_variables", {}))
        return env

    def save_to_directory(self, path: str, overwrite: bool = False) -> None:
        folder = Path(path)
        if folder.exists() and any(folder.iterdir()) and not overwrite:
            raise MlwEnvironmentError(f"{folder} is not empty; pass overwrite=True")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / SPEC_FILE).write_text(json.dumps({"name": self.name, "spec": self.spec()}, indent=2) + "\n")
        self.python.conda_dependencies.save(str(folder / CONDA_FILE))

    @classmethod
    def load_from_directory(cls, path: str) -> Environment:
        spec_path = Path(path) / SPEC_FILE
        try:
            data = json.loads(spec_path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise MlwEnvironmentError(f"cannot load environment from {spec_path}: {exc}") from None
        return cls.from_spec(data["name"], data["spec"])

    # -- registry ----------------------------------------------------------------------------------

    def register(self, workspace: Any) -> Environment:
        """Register; the same spec returns the existing version, a changed one the next version."""
        from airflow_mlw.environments.registration import register_environment

        for prefix in (CURATED_PREFIX, AZURE_CURATED_PREFIX):
            if self.name.startswith(prefix):
                raise MlwEnvironmentError(
                    f"environment name {self.name!r}: names starting with {prefix!r} are reserved for curated environments"
                )
        return register_environment(workspace, self)

    @classmethod
    def get(
        cls, workspace: Any, name: str, version: int | str | None = None, label: str | None = None
    ) -> Environment:
        from airflow_mlw.environments.registration import get_environment

        return get_environment(workspace, name, version)

    @classmethod
    def list(cls, workspace: Any) -> dict[str, Environment]:
        from airflow_mlw.environments.registration import list_environments

        return list_environments(workspace)

    def build(self, workspace: Any = None, image_build_compute: Any = None) -> str:
        """Build (once) the Docker image of this spec; returns its tag."""
        from airflow_mlw.environments.docker_build import ensure_image

        return ensure_image(self, workspace)

    def clone(self, new_name: str) -> Environment:
        """A copy under ``new_name`` (Azure's way to start from a curated environment)."""
        env = Environment.from_spec(new_name, self.spec())
        env.python.conda_dependencies.pip_packages = list(self.python.conda_dependencies.pip_packages)
        return env

    def __repr__(self) -> str:
        return f"Environment(name={self.name!r}, version={self.version})"


def spec_hash(spec: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


CURATED: dict[str, dict[str, Any]] = {
    "MLW-minimal": {"pip_packages": []},
    "MLW-pandas": {"pip_packages": ["pandas", "pyarrow"]},
    "MLW-sklearn": {"pip_packages": ["pandas", "pyarrow", "scikit-learn"]},
    "MLW-lightgbm": {"pip_packages": ["pandas", "pyarrow", "scikit-learn", "lightgbm"]},
    "MLW-pytorch": {"pip_packages": ["pandas", "pyarrow", "torch", "torchvision"]},
    "MLW-tensorflow": {"pip_packages": ["pandas", "pyarrow", "tensorflow"]},
}


def curated_environment(name: str) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=CURATED[name]["pip_packages"])
    env.docker.enabled = True
    return env
