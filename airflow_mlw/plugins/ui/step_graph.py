"""The pipeline run page's step graph: each step a node (state, reuse, duration, links to its run and to
its Airflow task instance), the dependencies between steps as edges labelled with the data they pass.

Nodes and edges come from Airflow (the DAG run's task instances and the dependencies of the DAG
version it ran, read from the metadata DB the api-server serves); reuse, durations and the data on
each edge from the registry's step runs. A DAG run Airflow does not know (run by another deployment)
is drawn from the step runs alone. The layout is computed here, in layers from the roots down (a
step sits one layer below its lowest upstream step); the page draws boxes over SVG curves and embeds
the whole graph as JSON.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_mlw.plugins.ui import queries

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.orm import Session

    from airflow_mlw.plugins.ui.rendering import Urls
    from airflow_mlw.registry.rows import RunRow

#: Box size and gaps of the layout (CSS pixels).
NODE_WIDTH, NODE_HEIGHT, GAP_X, GAP_Y, MARGIN = 200, 66, 36, 54, 8
#: Azure's status of an Airflow task instance state, for steps without a registry run.
AIRFLOW_STATUS = {
    "success": "Finished",
    "failed": "Failed",
    "upstream_failed": "NotStarted",
    "skipped": "NotStarted",
    "removed": "NotStarted",
    "running": "Running",
    "deferred": "Running",
    "restarting": "Running",
    "up_for_retry": "Running",
    "up_for_reschedule": "Running",
    "queued": "Queued",
    "scheduled": "Queued",
}


@dataclass
class TaskState:
    """What Airflow knows of one task in the DAG run (a mapped task: all its instances)."""

    states: list[str | None] = field(default_factory=list)
    duration: float | None = None
    mapped: bool = False
    #: Instances of the mapped task (a ParallelRunStep: of its batches task), 0 when none.
    mapped_count: int = 0


@dataclass
class StepNode:
    """A step as the graph draws it; ``reuse`` is ``reused``, ``ran``, ``failed``, ``running`` or ``not run``."""

    id: str
    label: str
    status: str
    reuse: str
    airflow_state: str | None
    duration: float | None
    saved: float | None
    run_url: str | None
    airflow_url: str | None
    mapped: int = 0
    layer: int = 0
    x: float = 0.0
    y: float = 0.0


@dataclass
class StepEdge:
    source: str
    target: str
    data: list[str]
    path: str = ""
    label_x: float = 0.0
    label_y: float = 0.0


@dataclass
class StepGraph:
    nodes: list[StepNode]
    edges: list[StepEdge]
    width: float
    height: float
    source: str  # "airflow" or "registry": where the nodes and edges were read

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def step_graph(session: Session, pipeline: RunRow, steps: Sequence[RunRow], urls: Urls) -> StepGraph:
    """The graph of ``pipeline``'s DAG run; ``steps`` are its step runs (oldest first)."""
    latest = {row.task_id or row.name or row.id: row for row in steps}  # a retried task's later try wins
    airflow = airflow_tasks(pipeline.dag_id, pipeline.dag_run_id)
    if airflow is not None:
        upstream, tasks = airflow
        source = "airflow"
    else:
        upstream, tasks = registry_edges(latest), {}
        source = "registry"
    origins = queries.origins_of(session, latest.values())
    nodes = []
    for task_id in upstream:
        row, task = latest.get(task_id), tasks.get(task_id, TaskState())
        nodes.append(node(task_id, row, task, origins, pipeline, urls))
    edges = []
    for target, sources in upstream.items():
        for source_id in sorted(sources):
            edges.append(StepEdge(source_id, target, data_names(latest.get(target), source_id)))
    width, height = lay_out(nodes, edges)
    return StepGraph(nodes, edges, width, height, source)


def node(
    task_id: str,
    row: RunRow | None,
    task: TaskState,
    origins: dict[str, RunRow],
    pipeline: RunRow,
    urls: Urls,
) -> StepNode:
    state = summary_state(task.states)
    status = row.status if row is not None else AIRFLOW_STATUS.get(state or "", "NotStarted")
    if row is not None and row.reused_from_id:
        reuse = "reused"
    elif status == "Failed":
        reuse = "failed"
    elif status == "Finished":
        reuse = "ran"
    elif status in ("Running", "Queued"):
        reuse = "running"
    else:
        reuse = "not run"
    duration = queries.duration(row) if row is not None else None
    airflow_url = None
    if pipeline.dag_id and pipeline.dag_run_id:
        airflow_url = urls.airflow(pipeline.dag_id, pipeline.dag_run_id, task_id)
        airflow_url += "/mapped" if task.mapped else ""
    return StepNode(
        id=task_id,
        label=(row.name if row is not None and row.name else task_id),
        status=status,
        reuse=reuse,
        airflow_state=state,
        duration=duration if duration is not None else task.duration,
        saved=queries.duration(origins.get(row.reused_from_id))
        if row is not None and row.reused_from_id
        else None,
        run_url=urls.run(row.id) if row is not None else None,
        airflow_url=airflow_url,
        mapped=task.mapped_count,
    )


def summary_state(states: list[str | None]) -> str | None:
    """One state for a task's instances: the first failing, else running, else any, state."""
    for wanted in (("failed", "upstream_failed"), ("running", "queued", "scheduled", "up_for_retry")):
        for state in states:
            if state in wanted:
                return state
    return states[0] if states else None


def data_names(consumer: RunRow | None, producer_task: str) -> list[str]:
    """The inputs ``consumer`` read from ``producer_task``'s outputs (its reuse key's document names
    each upstream output's producer); empty until the consumer computed its key."""
    inputs = (((consumer.key_document if consumer is not None else None) or {}).get("info") or {}).get(
        "inputs"
    ) or {}
    return sorted(
        name
        for name, info in inputs.items()
        if isinstance(info, dict) and info.get("producer") == producer_task
    )


def registry_edges(latest: dict[str, RunRow]) -> dict[str, set[str]]:
    """Upstream steps by step, from the producers the step runs' key documents name."""
    upstream: dict[str, set[str]] = {task_id: set() for task_id in latest}
    for task_id, row in latest.items():
        inputs = ((row.key_document or {}).get("info") or {}).get("inputs") or {}
        for info in inputs.values():
            producer = info.get("producer") if isinstance(info, dict) else None
            if producer in upstream:
                upstream[task_id].add(producer)
    return upstream


def airflow_tasks(
    dag_id: str | None, dag_run_id: str | None
) -> tuple[dict[str, set[str]], dict[str, TaskState]] | None:
    """Upstream task ids by task id (in the DAG's order, without the planning task) and the task
    instances' states, of the DAG version the run ran; None when Airflow has no such DAG run."""
    if not dag_id or not dag_run_id:
        return None
    from airflow.models.dagbag import DBDagBag
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from airflow_mlw.operators.planner import PLANNER_TASK_ID

    with create_session() as session:
        dag_run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == dag_run_id))
        if dag_run is None:
            return None
        dag = DBDagBag().get_dag_for_run(dag_run, session=session)
        if dag is None:
            return None
        upstream = {
            task.task_id: set(task.upstream_task_ids) - {PLANNER_TASK_ID}
            for task in dag.tasks
            if task.task_id != PLANNER_TASK_ID
        }
        tasks: dict[str, TaskState] = defaultdict(TaskState)
        instances = session.execute(
            select(
                TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.duration
            ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == dag_run_id)
        )
        for task_id, map_index, state, duration in instances:
            task = tasks[task_id]
            task.states.append(str(state) if state is not None else None)
            if map_index >= 0:
                task.mapped, task.mapped_count = True, task.mapped_count + 1
            if duration is not None:
                task.duration = max(task.duration or 0.0, float(duration))
    return merge_parallel_steps(upstream, dict(tasks))


def merge_parallel_steps(
    upstream: dict[str, set[str]], tasks: dict[str, TaskState]
) -> tuple[dict[str, set[str]], dict[str, TaskState]]:
    """A ParallelRunStep's three tasks (``<id>__plan`` >> ``<id>__batches``, mapped, >> ``<id>``, as
    ``dag_builder.parallel_step_tasks`` names them) as one step ``<id>``: its upstream steps are
    its plan task's, its instances all three tasks', its mapped count its batches'."""
    for step in [t for t in upstream if f"{t}__plan" in upstream and f"{t}__batches" in upstream]:
        plan, batches = f"{step}__plan", f"{step}__batches"
        upstream[step] = upstream.pop(plan)
        upstream.pop(batches)
        parts = [tasks.pop(t, TaskState()) for t in (plan, batches)] + [tasks.get(step, TaskState())]
        tasks[step] = TaskState(
            states=[state for part in parts for state in part.states],
            duration=sum(part.duration or 0.0 for part in parts) or None,
            mapped=False,  # the step's own task (its gather) is not mapped
            mapped_count=len(parts[1].states),
        )
    return upstream, tasks


def lay_out(nodes: list[StepNode], edges: list[StepEdge]) -> tuple[float, float]:
    """Place ``nodes`` in layers (roots on top) and route ``edges`` as curves; the canvas size.

    A step's layer is one below its lowest upstream step; within a layer steps are ordered by the
    mean position of their upstream steps (fewer crossings), then as the DAG lists them."""
    upstream: dict[str, list[str]] = defaultdict(list)
    for edge in edges:
        upstream[edge.target].append(edge.source)
    by_id = {n.id: n for n in nodes}
    layer: dict[str, int] = {}

    def depth(task_id: str, seen: frozenset[str] = frozenset()) -> int:
        if task_id not in layer:
            parents = [p for p in upstream[task_id] if p in by_id and p not in seen]
            layer[task_id] = 1 + max((depth(p, seen | {task_id}) for p in parents), default=-1)
        return layer[task_id]

    layers: dict[int, list[StepNode]] = defaultdict(list)
    for n in nodes:
        n.layer = depth(n.id)
        layers[n.layer].append(n)
    position: dict[str, float] = {}
    for index in sorted(layers):
        members = layers[index]
        keys = {}
        for i, n in enumerate(members):
            known = [position[p] for p in upstream[n.id] if p in position]
            keys[n.id] = (sum(known) / len(known) if known else float(i), i)
        members.sort(key=lambda n: keys[n.id])
        for i, n in enumerate(members):
            position[n.id] = float(i)
    widest = max((len(members) for members in layers.values()), default=0)
    width = MARGIN * 2 + widest * NODE_WIDTH + max(widest - 1, 0) * GAP_X
    for index, members in layers.items():
        row_width = len(members) * NODE_WIDTH + (len(members) - 1) * GAP_X
        left = (width - row_width) / 2
        for i, n in enumerate(members):
            n.x = left + i * (NODE_WIDTH + GAP_X)
            n.y = MARGIN + index * (NODE_HEIGHT + GAP_Y)
    for edge in edges:
        a, b = by_id[edge.source], by_id[edge.target]
        x1, y1, x2, y2 = a.x + NODE_WIDTH / 2, a.y + NODE_HEIGHT, b.x + NODE_WIDTH / 2, b.y
        bend = max((y2 - y1) / 2, GAP_Y / 2)
        edge.path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{y1 + bend:.1f} {x2:.1f},{y2 - bend:.1f} {x2:.1f},{y2:.1f}"
        edge.label_x, edge.label_y = (x1 + x2) / 2, (y1 + y2) / 2
    height = MARGIN * 2 + len(layers) * NODE_HEIGHT + max(len(layers) - 1, 0) * GAP_Y
    return width, height
