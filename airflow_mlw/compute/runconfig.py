"""``RunConfiguration``: the environment and compute target of a step or script (Azure's class)."""

from __future__ import annotations

from typing import Any

from airflow_mlw.environments.spec import Environment


class RunConfiguration:
    """Environment and compute target of a step or script (Azure's ``RunConfiguration``)."""

    def __init__(
        self,
        script: str | None = None,
        arguments: list[Any] | None = None,
        framework: str | None = None,
        communicator: str | None = None,
        conda_dependencies: Any = None,
        _history_enabled: Any = None,
        _path: Any = None,
        _name: Any = None,
        command: Any = None,
    ) -> None:
        self.environment = Environment("default")
        if conda_dependencies is not None:
            self.environment.python.conda_dependencies = conda_dependencies
        self.target: Any = "local"
        self.script = script
        self.arguments = arguments or []
