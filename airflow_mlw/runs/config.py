"""What a script run runs: ``ScriptRunConfig`` and ``Estimator`` (Azure's names and arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ScriptRunConfig:
    """A script, its arguments, environment and compute target (Azure's ``ScriptRunConfig``)."""

    def __init__(
        self,
        source_directory: str,
        script: str | None = None,
        arguments: list[Any] | None = None,
        run_config: Any = None,
        compute_target: Any = None,
        environment: Any = None,
        **_azure_only: Any,
    ) -> None:
        self.source_directory = str(source_directory)
        self.script = script
        self.arguments = [str(a) for a in arguments or []]
        self.run_config = run_config
        self.compute_target = (
            compute_target if compute_target is not None else getattr(run_config, "target", None)
        )
        self.environment = (
            environment if environment is not None else getattr(run_config, "environment", None)
        )


class Estimator(ScriptRunConfig):
    """Azure's ``Estimator``: an entry script with ``script_params``, an environment or packages."""

    def __init__(
        self,
        source_directory: str,
        compute_target: Any = None,
        entry_script: str | None = None,
        script_params: dict[str, Any] | None = None,
        environment_definition: Any = None,
        pip_packages: list[str] | None = None,
        conda_packages: list[str] | None = None,
        use_docker: bool | None = None,
        **_azure_only: Any,
    ) -> None:
        from airflow_mlw.environments.spec import CondaDependencies, Environment

        arguments: list[Any] = []
        for key, value in (script_params or {}).items():
            arguments.append(key)
            if value is not None and value != "":
                arguments.append(value)
        environment = environment_definition
        if environment is None and (pip_packages or conda_packages):
            environment = Environment(f"estimator-{Path(source_directory).name}")
            environment.python.conda_dependencies = CondaDependencies.create(
                pip_packages=pip_packages, conda_packages=conda_packages
            )
            environment.docker.enabled = bool(use_docker)
        super().__init__(source_directory, entry_script, arguments, None, compute_target, environment)
