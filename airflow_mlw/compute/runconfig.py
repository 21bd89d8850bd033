"""``RunConfiguration``: the environment and compute target of a step or script, and the small
configuration objects that go with it (``MpiConfiguration``, ``PyTorchConfiguration``,
``DockerConfiguration``) with Azure's constructor arguments."""

from __future__ import annotations

from typing import Any

from airflow_mlw.environments.spec import Environment
from airflow_mlw.exceptions import RunConfigurationError


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
        #: ``DockerConfiguration(use_docker=...)``; ``None``: the environment's ``docker.enabled`` decides.
        self.docker: Any = None
        self.node_count = 1
        #: Variables of the run's process, on top of the environment's.
        self.environment_variables: dict[str, str] = {}


def _count(owner: str, name: str, value: Any, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RunConfigurationError(
            f"{owner}({name}=...) must be a whole number of at least 1, not {value!r}"
        )
    return value


class MpiConfiguration:
    """An MPI job's shape (Azure's class): ``process_count_per_node`` processes on ``node_count`` nodes.

    :param process_count_per_node: processes started on each node
    :param node_count: nodes of the job
    """

    def __init__(self, process_count_per_node: int = 1, node_count: int = 1) -> None:
        self.process_count_per_node = _count(
            "MpiConfiguration", "process_count_per_node", process_count_per_node
        )
        self.node_count = _count("MpiConfiguration", "node_count", node_count)
        self.communicator = "IntelMpi"

    def __repr__(self) -> str:
        return f"MpiConfiguration(process_count_per_node={self.process_count_per_node}, node_count={self.node_count})"


class PyTorchConfiguration:
    """A PyTorch distributed job's shape (Azure's class).

    :param communication_backend_name: ``nccl``, ``gloo`` … (PyTorch's default when ``None``)
    :param process_count: processes in all (default: one per node)
    :param node_count: nodes of the job
    """

    def __init__(
        self,
        communication_backend_name: str | None = None,
        process_count: int | None = None,
        node_count: int = 1,
    ) -> None:
        self.communication_backend_name = communication_backend_name
        self.process_count = _count("PyTorchConfiguration", "process_count", process_count, optional=True)
        self.node_count = _count("PyTorchConfiguration", "node_count", node_count)
        self.communicator = "PyTorch"

    def __repr__(self) -> str:
        return (
            f"PyTorchConfiguration(communication_backend_name={self.communication_backend_name!r}, "
            f"process_count={self.process_count}, node_count={self.node_count})"
        )


class DockerConfiguration:
    """Whether and how a run uses Docker (Azure's class, the later v1 way to turn Docker on).

    :param use_docker: run in a container of the environment's image
    :param shared_volumes: mount the working directory into the container
    :param arguments: extra ``docker run`` arguments
    :param shm_size: the container's ``/dev/shm`` size (``"2g"``)
    """

    def __init__(
        self,
        use_docker: bool = True,
        shared_volumes: bool = True,
        arguments: list[str] | None = None,
        shm_size: str | None = None,
    ) -> None:
        if not isinstance(use_docker, bool):
            raise RunConfigurationError(
                f"DockerConfiguration(use_docker=...) must be True or False, not {use_docker!r}"
            )
        self.use_docker = use_docker
        self.shared_volumes = bool(shared_volumes)
        self.arguments = list(arguments or [])
        self.shm_size = shm_size

    def __repr__(self) -> str:
        return (
            f"DockerConfiguration(use_docker={self.use_docker}, shared_volumes={self.shared_volumes}, "
            f"arguments={self.arguments!r})"
        )
