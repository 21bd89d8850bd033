"""What a script run runs: ``ScriptRunConfig`` and ``Estimator`` (Azure's names and arguments)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlw.compute.runconfig import RunConfiguration
from airflow_mlw.environments.spec import Environment


class ScriptRunConfig:
    """A script, its arguments, environment and compute target (Azure's ``ScriptRunConfig``).

    ``arguments`` may hold data as a pipeline step's do: ``ds.as_named_input('iris')`` (also
    ``.as_mount()`` / ``.as_download()``), a ``DataReference``, and ``OutputFileDatasetConfig`` /
    ``PipelineData`` outputs (``.register_on_complete(name)``); the script gets their paths.
    ``run_config`` is a live ``RunConfiguration``: ``compute_target`` and ``environment`` are its
    ``target`` and ``environment``.
    """

    def __init__(
        self,
        source_directory: str,
        script: str | None = None,
        arguments: list[Any] | None = None,
        run_config: Any = None,
        _telemetry_values: Any = None,
        compute_target: Any = None,
        environment: Any = None,
        distributed_job_config: Any = None,
        resume_from: Any = None,
        max_run_duration_seconds: int | None = None,
        command: list[str] | str | None = None,
        docker_runtime_config: Any = None,
        **_azure_only: Any,
    ) -> None:
        self.source_directory = str(source_directory)
        self.script = script
        self.arguments = list(arguments or [])
        #: A live ``RunConfiguration`` (or any object with its attributes, as Azure accepts).
        self.run_config: Any = RunConfiguration() if run_config is None else run_config
        if compute_target is not None:
            self.run_config.target = compute_target
        if environment is not None:
            self.run_config.environment = environment
        if docker_runtime_config is not None:
            self.run_config.docker = docker_runtime_config
        self.distributed_job_config = distributed_job_config
        self.max_run_duration_seconds = max_run_duration_seconds
        self.command = command
        #: Data the script reads without naming it in ``arguments`` (``Estimator(inputs=...)``).
        self.inputs: list[Any] = []

    def run_environment(self) -> Any:
        """The environment the run uses: ``run_config.environment``, in Docker when
        ``run_config.docker`` (``DockerConfiguration(use_docker=...)``) says so."""
        environment = self.run_config.environment or Environment("default")
        use_docker = getattr(getattr(self.run_config, "docker", None), "use_docker", None)
        variables = dict(getattr(self.run_config, "environment_variables", None) or {})
        docker_changes = use_docker is not None and bool(use_docker) != environment.docker.enabled
        if docker_changes or variables:
            environment = Environment.from_spec(environment.name, environment.spec())
            environment.environment_variables = {**environment.environment_variables, **variables}
            if use_docker is not None:
                environment.docker.enabled = bool(use_docker)
        return environment

    def script_and_command(self) -> tuple[str, list[Any]]:
        """(script, its arguments) — or, for ``command=[...]``, ("", the command); a command
        string runs in ``/bin/sh -c``."""
        if self.command is None:
            return str(self.script), list(self.arguments)
        if isinstance(self.command, str):
            return "", ["/bin/sh", "-c", self.command]
        return "", [*self.command, *self.arguments]

    def process_counts(self) -> tuple[int, int | None]:
        """(processes, per node) of ``distributed_job_config`` — all on this machine for local and
        Docker compute; (1, None) without one."""
        job = self.distributed_job_config
        if job is None:
            return 1, None
        nodes = int(getattr(job, "node_count", 1) or 1)
        per_node = getattr(job, "process_count_per_node", None)
        if per_node is not None:
            return int(per_node) * nodes, int(per_node)
        total = getattr(job, "process_count", None) or nodes
        return int(total), max(1, int(total) // nodes)

    @property
    def compute_target(self) -> Any:
        return self.run_config.target

    @compute_target.setter
    def compute_target(self, value: Any) -> None:
        self.run_config.target = value

    @property
    def environment(self) -> Any:
        return self.run_config.environment

    @environment.setter
    def environment(self, value: Any) -> None:
        self.run_config.environment = value


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
        inputs: list[Any] | None = None,
        **_azure_only: Any,
    ) -> None:
        from airflow_mlw.environments.spec import CondaDependencies

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
        super().__init__(
            source_directory, entry_script, arguments, compute_target=compute_target, environment=environment
        )
        self.inputs = list(inputs or [])
