"""``compute_target.get_status()``: the provisioning status string Azure's code compares, carrying
the attributes and ``serialize()`` keys of Azure's ``AmlComputeStatus``."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class NodeStateCounts:
    """Nodes by state (Azure's ``AmlComputeNodeStateCounts``); a node here is a pool slot."""

    idle_node_count: int = 0
    running_node_count: int = 0
    preparing_node_count: int = 0
    unusable_node_count: int = 0
    leaving_node_count: int = 0
    preempted_node_count: int = 0

    def serialize(self) -> dict[str, int]:
        return {_camel(key): value for key, value in asdict(self).items()}


class ComputeTargetStatus(str):
    """``"Succeeded"`` (targets are ready once registered) that also answers as Azure's status object:
    ``allocation_state``, ``current_node_count``, ``target_node_count``, ``node_state_counts``,
    ``vm_size``, ``vm_priority``, ``serialize()``."""

    provisioning_state: str
    allocation_state: str
    current_node_count: int
    target_node_count: int
    node_state_counts: NodeStateCounts
    vm_size: str | None
    vm_priority: str | None
    errors: list[Any]

    def __new__(
        cls,
        provisioning_state: str = "Succeeded",
        current_node_count: int = 0,
        max_nodes: int = 1,
        vm_size: str | None = None,
        vm_priority: str | None = None,
    ) -> ComputeTargetStatus:
        status = super().__new__(cls, provisioning_state)
        status.provisioning_state = provisioning_state
        status.allocation_state = "Steady"
        status.current_node_count = current_node_count
        status.target_node_count = current_node_count
        status.node_state_counts = NodeStateCounts(
            idle_node_count=max(max_nodes - current_node_count, 0), running_node_count=current_node_count
        )
        status.vm_size = vm_size
        status.vm_priority = vm_priority
        status.errors = []
        return status

    def serialize(self) -> dict[str, Any]:
        """Azure's keys: ``provisioningState``, ``allocationState``, ``currentNodeCount``, ``targetNodeCount``,
        ``nodeStateCounts``, ``vmSize``, ``vmPriority``, ``errors``."""
        return {
            "provisioningState": self.provisioning_state,
            "allocationState": self.allocation_state,
            "currentNodeCount": self.current_node_count,
            "targetNodeCount": self.target_node_count,
            "nodeStateCounts": self.node_state_counts.serialize(),
            "vmSize": self.vm_size,
            "vmPriority": self.vm_priority,
            "errors": list(self.errors),
        }


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def running_slots(pool: str) -> int:
    """Task slots running in an Airflow pool; 0 when there is no such pool or no metadata DB here."""
    try:
        from airflow.configuration import conf
        from airflow.models.pool import Pool
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:
        return 0
    url = conf.get("database", "sql_alchemy_conn")
    if url.startswith("sqlite") and not Path(url.split(":///", 1)[-1].split("?")[0]).is_file():
        return 0  # never create an empty metadata DB to look into it
    try:
        found = Pool.get_pool(pool)
        return int(found.running_slots()) if found is not None else 0
    except SQLAlchemyError:
        return 0
