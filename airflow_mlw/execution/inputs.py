"""Step inputs: one typed, frozen class per kind, from ``PythonScriptStep(...)`` to the script process.

:func:`inputs_of` turns a step's inputs (``PipelineData``, dataset consumptions, ``DataReference``,
data-path parameters) into these objects when the DAG is built (no I/O). On the worker the operator
binds each to its DAG run (:meth:`StepInput.bind`: a parameter's value, the producer's XCom record,
pulled once), keys it (:meth:`StepInput.fingerprint`: listings and the registry, never input data)
and materialises it (:meth:`StepInput.materialize`: local files plus what ``run.input_datasets[name]``
reads in the script).

Datastores, datasets and outputs are imported inside the methods: the DAG builder imports this
module when DAG files are parsed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from airflow_mlw._lazy import loaded_class
from airflow_mlw.exceptions import MlwError
from airflow_mlw.pipelines.data import DataPathInput, PipelineData, PipelineParameter

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_mlw.pipelines.steps import PipelineStep
    from airflow_mlw.workspace import Workspace


#: The task id of a pipeline DAG's planning task (``operators.planner``).
PLANNER_TASK_ID = "mlw_plan"


def step_result(ti: Any, task_id: str) -> dict[str, Any] | None:
    """What a script step of this DAG run returned: its own XCom when it ran, else — a step the
    planning task reused — the planner's ``results`` entry for it; ``None`` when neither has one."""
    pushed = ti.xcom_pull(task_ids=task_id, key="return_value")
    if pushed is not None:
        return pushed  # type: ignore[no-any-return]
    plan = ti.xcom_pull(task_ids=PLANNER_TASK_ID, key="return_value")
    result = (plan.get("results") or {}).get(task_id) if isinstance(plan, dict) else None
    return result  # type: ignore[no-any-return]


class Placement:
    """Where the operator puts inputs and how the script sees a path (host, container or pod).

    :param folder: the run's working folder (downloads go to ``folder/inputs/<name>``)
    :param cache: cache of upstream outputs copied from remote datastores, keyed by fingerprint
    :param in_container: the script runs in a container (datasets are downloaded, not linked)
    :param visible_path: ``(kind, name, host path) -> path as the script sees it``
    """

    __slots__ = ("folder", "cache", "in_container", "visible_path")

    def __init__(
        self, folder: Path, cache: Path, in_container: bool, visible_path: Callable[[str, str, Path], str]
    ) -> None:
        self.folder = folder
        self.cache = cache
        self.in_container = in_container
        self.visible_path = visible_path


class Materialized:
    """A materialised input: its files here, the script's view of it, and what the run records."""

    __slots__ = ("host", "script", "record")

    def __init__(self, host: Path, script: dict[str, Any], record: dict[str, Any]) -> None:
        self.host = host
        self.script = script
        self.record = record


class StepInput:
    """One input of a step, under ``name``; ``mode`` is ``mount``, ``download`` or ``direct``.

    A frozen value: its ``FIELDS`` (name -> default, in order) are set once; ``replace`` makes a
    changed copy. (Written out rather than ``@dataclass``: generating seven dataclasses cost ~4 ms
    at every parse of a DAG file.)
    """

    kind: ClassVar[str] = ""
    FIELDS: ClassVar[dict[str, Any]] = {"name": None, "mode": "mount"}
    name: str
    mode: str

    def __init__(self, *values: Any, **named: Any) -> None:
        fields = type(self).FIELDS
        if len(values) > len(fields):
            raise TypeError(f"{type(self).__name__} takes at most {len(fields)} values")
        given = dict(zip(fields, values, strict=False))
        unknown = (set(named) - set(fields)) | (set(named) & set(given))
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected or repeated fields {sorted(unknown)}")
        given.update(named)
        if given.get("name") is None:
            raise TypeError(f"{type(self).__name__} needs a name")
        for field, default in fields.items():
            object.__setattr__(self, field, given.get(field, default))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is frozen: use replace({name}=...)")

    def as_dict(self) -> dict[str, Any]:
        return {field: getattr(self, field) for field in type(self).FIELDS}

    def replace(self, **changes: Any) -> Any:
        return type(self)(**{**self.as_dict(), **changes})

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.as_dict() == other.as_dict()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(f"{field}={value!r}" for field, value in self.as_dict().items())
        return f"{type(self).__name__}({shown})"

    def bind(self, context: Context) -> StepInput:
        """This input for one DAG run (run-time values filled in); most kinds need nothing."""
        return self

    def fingerprint(self, ws: Workspace) -> tuple[str, dict[str, Any]]:
        """(content fingerprint for the reuse key, what explains a change); reads no input data."""
        raise NotImplementedError

    def materialize(self, ws: Workspace, placement: Placement) -> Materialized:
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """The input as JSON (for logs and tests), with its ``type``."""
        return {"type": self.kind, **self.as_dict()}


class UpstreamOutput(StepInput):
    """An output of another step of the same DAG run, handed over through XCom."""

    kind: ClassVar[str] = "pipeline_data"
    #: ``record``: the producer's committed output (location, fingerprint), set by :meth:`bind`.
    FIELDS: ClassVar[dict[str, Any]] = {**StepInput.FIELDS, "producer_task": "", "output": "", "record": None}
    producer_task: str
    output: str
    record: dict[str, Any] | None

    def bind(self, context: Context) -> UpstreamOutput:
        if self.record is not None:
            return self
        pushed = step_result(context["ti"], self.producer_task) or {}
        record = pushed.get("outputs", {}).get(self.output)
        if record is None:
            raise MlwError(
                f"input {self.name!r}: step {self.producer_task!r} pushed no output {self.output!r}"
            )
        return self.replace(record=record)  # type: ignore[no-any-return]

    def _bound(self) -> dict[str, Any]:
        if self.record is None:
            raise MlwError(f"input {self.name!r} is not bound to a DAG run")
        return self.record

    def fingerprint(self, ws: Workspace) -> tuple[str, dict[str, Any]]:
        return self._bound()["fingerprint"], {"producer": self.producer_task}

    def materialize(self, ws: Workspace, placement: Placement) -> Materialized:
        record = self._bound()
        host = materialize_output(ws, record, placement.cache)
        script = {
            "path": placement.visible_path("input", self.name, host),
            "kind": "file",
            "fingerprint": record["fingerprint"],
        }
        return Materialized(host, script, record)


class DatasetInput(StepInput):
    """A dataset: registered (``dataset_name``, resolved to ``version`` or the latest when the step
    runs; or ``dataset_id``, one version) or an unregistered ``definition``."""

    kind: ClassVar[str] = "dataset"
    FIELDS: ClassVar[dict[str, Any]] = {
        **StepInput.FIELDS,
        "dataset_kind": "file",
        "dataset_name": None,
        "version": None,
        "definition": None,
        "dataset_id": None,
        "validate": True,
        "as_of": None,
    }
    dataset_kind: str
    dataset_name: str | None
    version: Any
    definition: dict[str, Any] | None
    dataset_id: str | None
    #: ``False``: read the version's paths as they are now (no drift check; keyed by that content).
    validate: bool
    #: ISO time the latest version is taken as of (the DAG run's start), set by :meth:`bind`.
    as_of: str | None

    def bind(self, context: Context) -> DatasetInput:
        if not self.dataset_name or self.version is not None or self.as_of is not None:
            return self
        return self.replace(as_of=run_start(context).isoformat())  # type: ignore[no-any-return]

    def fingerprint(self, ws: Workspace) -> tuple[str, dict[str, Any]]:
        import hashlib
        import json

        # What running would read: a registered version after its drift check (DatasetDriftError
        # as materialising raises), or with validate=False its paths' current content.
        dataset = self.dataset(ws)
        if dataset.name:
            info = {"dataset": dataset.name, "version": dataset.version}
            return dataset.readable_fingerprint(self.validate), info
        # The files, and what the definition makes of them (format, filters, transformations).
        shape = json.dumps({k: v for k, v in dataset.definition.items() if k != "sources"}, sort_keys=True)
        digest = hashlib.sha256(f"{dataset.fingerprint}\n{shape}".encode()).hexdigest()
        return digest, {}

    def dataset(self, ws: Workspace) -> Any:
        """The dataset object this input names."""
        from airflow_mlw.datasets import Dataset, FileDataset, TabularDataset

        if self.dataset_id:
            dataset = Dataset.get_by_id(ws, self.dataset_id)
        elif self.dataset_name and self.version is None and self.as_of:
            from datetime import datetime

            from airflow_mlw.datasets.versioning import load_version

            as_of = datetime.fromisoformat(self.as_of)
            dataset = Dataset._from_record(ws, load_version(ws, self.dataset_name, as_of=as_of))
        elif self.dataset_name:
            dataset = Dataset.get_by_name(ws, self.dataset_name, self.version or "latest")
        else:
            cls = TabularDataset if self.dataset_kind == "tabular" else FileDataset
            dataset = cls(self.definition or {}, ws)
        if self.dataset_kind and dataset.kind != self.dataset_kind:  # "": whatever the version is
            raise MlwError(
                f"input {self.name!r} takes a {self.dataset_kind} dataset; {dataset.name!r} is a {dataset.kind} one"
            )
        return dataset

    def materialize(self, ws: Workspace, placement: Placement) -> Materialized:
        mode = "download" if placement.in_container else self.mode or "mount"
        target = placement.folder / "inputs" / self.name
        from airflow_mlw.execution.materialize import materialize_dataset

        script = materialize_dataset(ws, self.replace(mode=mode), target)
        script["path"] = placement.visible_path("dataset", self.name, Path(script["path"]))
        return Materialized(target, script, script)


class DatastorePath(StepInput):
    """A path on a datastore (``DataReference``, or a data-path parameter bound to its run's value)."""

    kind: ClassVar[str] = "datastore_path"
    FIELDS: ClassVar[dict[str, Any]] = {**StepInput.FIELDS, "datastore": None, "path": ""}
    datastore: str | None
    path: str

    def fingerprint(self, ws: Workspace) -> tuple[str, dict[str, Any]]:
        from airflow_mlw.datasets.manifest import build_manifest
        from airflow_mlw.datasets.sources import Source

        manifest, _ = build_manifest(ws, [Source(self.datastore, self.path or "")])
        return manifest.fingerprint, {"datastore": self.datastore, "path": self.path}

    def materialize(self, ws: Workspace, placement: Placement) -> Materialized:
        from airflow_mlw.datastores import Datastore
        from airflow_mlw.datastores.local import LocalBackend

        datastore = Datastore(ws, self.datastore)
        if isinstance(datastore.backend, LocalBackend) and not placement.in_container:
            host = datastore.backend.full_path(self.path or "")
        else:
            target = placement.folder / "inputs" / self.name
            datastore.download(target, prefix=self.path, overwrite=True, show_progress=False)
            host = target / (self.path or "")
        script = {"path": placement.visible_path("dataset", self.name, host), "kind": "file"}
        return Materialized(host, script, {"datastore": datastore.name, "path": self.path})


class DataPathParameter(StepInput):
    """A ``(PipelineParameter(default_value=DataPath), DataPathComputeBinding)`` pair: a datastore
    path chosen per run (trigger form, ``conf``, ``DataPathAssignments``, a datastore schedule)."""

    kind: ClassVar[str] = "datapath_param"
    FIELDS: ClassVar[dict[str, Any]] = {**StepInput.FIELDS, "param": ""}
    param: str

    def bind(self, context: Context) -> DatastorePath:
        from airflow_mlw.pipelines.schedule import triggered_data_path

        # A run triggered by a datastore-change schedule points the parameter at the changed files.
        value = (
            triggered_data_path(context, self.param) or (context.get("params") or {}).get(self.param) or {}
        )
        if not isinstance(value, dict) or "RelativePath" not in value:
            raise MlwError(
                f"parameter {self.param!r} must be {{'DataStoreName': ..., 'RelativePath': ...}}, not {value!r}"
            )
        return DatastorePath(self.name, self.mode, value.get("DataStoreName"), value["RelativePath"])


class DatasetParameter(StepInput):
    """A ``PipelineParameter`` whose default is a dataset: each run's value (``conf``, the trigger
    form, REST ``DataSetDefinitionValueAssignments``) names the dataset the step reads."""

    kind: ClassVar[str] = "dataset_param"
    FIELDS: ClassVar[dict[str, Any]] = {**StepInput.FIELDS, "param": "", "dataset_kind": "file"}
    param: str
    dataset_kind: str

    def bind(self, context: Context) -> DatasetInput:
        value = (context.get("params") or {}).get(self.param)
        return dataset_input(self.name, self.mode, self.dataset_kind, self.param, value).bind(context)


def run_start(context: Context) -> Any:
    """When the DAG run started (its ``start_date``; else its ``run_after`` or now)."""
    from datetime import UTC, datetime

    dag_run = context.get("dag_run")
    for attribute in ("start_date", "run_after", "logical_date"):
        value = getattr(dag_run, attribute, None)
        if isinstance(value, datetime):
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.now(UTC)


def dataset_input(name: str, mode: str, kind: str, param: str, value: Any) -> DatasetInput:
    """A dataset parameter's value -> the dataset input it names; a clear error for anything else.

    Accepted: ``{"name": ..., "version": ...}`` (``version`` omitted or ``"latest"``: the latest
    when the step runs), ``{"id": ...}``, Azure's ``{"SavedDataSetReference": {"Id": ...}}``, an
    unregistered ``{"kind": ..., "definition": ...}``, or a dataset name.
    """
    if isinstance(value, str) and value:
        value = {"name": value}
    if isinstance(value, dict) and isinstance(value.get("SavedDataSetReference"), dict):
        value = {"id": value["SavedDataSetReference"].get("Id")}
    if isinstance(value, dict) and value.get("id"):
        return DatasetInput(name, mode, kind, dataset_id=str(value["id"]))
    if isinstance(value, dict) and value.get("name"):
        version = value.get("version")
        return DatasetInput(
            name, mode, kind, str(value["name"]), None if version in (None, "latest") else version
        )
    if isinstance(value, dict) and isinstance(value.get("definition"), dict):
        if kind and value.get("kind", kind) != kind:
            raise MlwError(f"parameter {param!r} takes a {kind} dataset, not a {value.get('kind')} one")
        return DatasetInput(name, mode, kind, definition=value["definition"])
    raise MlwError(
        f"parameter {param!r} must name a dataset ({{'name': ..., 'version': ...}}, {{'id': ...}} or "
        f"{{'SavedDataSetReference': {{'Id': ...}}}}), not {value!r}"
    )


# -- from pipeline objects (the DAG builder, no I/O) ----------------------------------------------


def inputs_of(step: PipelineStep, task_id_for: Callable[[PipelineStep], str]) -> list[StepInput]:
    """The typed inputs of ``step``: its ``inputs`` and the data it reads through ``arguments``."""
    read_in_arguments = [
        a for a in step.arguments if isinstance(a, PipelineData) and a.origin._producer is not step
    ]
    return typed_inputs(f"step {step.name!r}", step.inputs + read_in_arguments, task_id_for)


def is_input(item: Any) -> bool:
    """``item`` (an argument of a script run) is data the script reads."""
    consumption = loaded_class("airflow_mlw.datasets.consumption", "DatasetConsumptionConfig")
    reference = loaded_class("airflow_mlw.datastores.reference", "DataReference")
    return isinstance(item, consumption | reference | DataPathInput)


def typed_inputs(
    owner: str, items: list[Any], task_id_for: Callable[[PipelineStep], str] | None = None
) -> list[StepInput]:
    """One typed input per item (an item named twice counts once).

    :param owner: the step or script, for errors
    :param task_id_for: task id of a producing step (pipelines only)
    """
    # Only a loaded module's classes can have instances: unneeded modules stay unimported at parse.
    consumption = loaded_class("airflow_mlw.datasets.consumption", "DatasetConsumptionConfig")
    reference = loaded_class("airflow_mlw.datastores.reference", "DataReference")
    by_name = loaded_class("airflow_mlw.datasets.factory", "DatasetByName")

    found: list[StepInput] = []
    for item in items:
        typed: StepInput
        if isinstance(item, PipelineData):
            if task_id_for is None or item.origin._producer is None:
                raise MlwError(
                    f"{owner}: {item.name!r} is an output of no step of this run; it cannot be read"
                )
            typed = UpstreamOutput(
                item.input_name, item.mode, task_id_for(item.origin._producer), item.origin.name
            )
        elif isinstance(item, consumption) and isinstance(item.dataset, PipelineParameter):
            default = item.dataset.default_value
            kind = "" if isinstance(default, by_name) else default.kind
            typed = DatasetParameter(item.name, item.mode, item.dataset.name, kind)
        elif isinstance(item, consumption):
            dataset, validate = item.dataset, getattr(item, "validate", True)
            if isinstance(dataset, by_name):
                # Named, not read (no I/O at parse): its kind is the version's, checked when it runs.
                typed = DatasetInput(
                    item.name, item.mode, "", dataset.name, dataset.pinned_version, None, validate=validate
                )
            elif dataset.name:
                # get_by_name without a version: the latest when each run starts; else pinned.
                version = None if dataset.follows_latest else dataset.version
                typed = DatasetInput(
                    item.name, item.mode, dataset.kind, dataset.name, version, None, validate=validate
                )
            else:
                typed = DatasetInput(item.name, item.mode, dataset.kind, None, None, dataset.definition)
        elif isinstance(item, DataPathInput):
            typed = DataPathParameter(item.name, item.binding.mode, item.parameter.name)
        elif isinstance(item, reference):
            typed = DatastorePath(
                reference_name(item),
                item.mode,
                item.datastore._requested_name,
                item.path_on_datastore,
            )
        else:
            raise MlwError(f"{owner}: unsupported input {item!r}")
        if typed not in found and typed.name not in {i.name for i in found}:
            found.append(typed)
    return found


def reference_name(item: Any) -> str:
    """The input name of a ``DataReference`` (its own name, else its datastore's)."""
    return str(item.data_reference_name or item.datastore._requested_name or "data")


def input_name(item: Any) -> str:
    """The name a script sees an input item under (``run.input_datasets[name]``, the path mark)."""
    reference = loaded_class("airflow_mlw.datastores.reference", "DataReference")
    return reference_name(item) if isinstance(item, reference) else str(item.name)


# -- materialising ---------------------------------------------------------------------------------


def materialize_output(workspace: Any, record: dict[str, Any], cache_root: Path) -> Path:
    """A local folder with an upstream output's files: in place on local datastores, else a cache."""
    from airflow_mlw.datastores import Datastore
    from airflow_mlw.datastores.local import LocalBackend
    from airflow_mlw.execution.outputs import output_exists

    if not output_exists(workspace, record):
        raise MlwError(
            f"upstream output {record['path']} on datastore {record['datastore']!r} is incomplete or gone "
            "(no manifest): re-run its producer"
        )
    datastore = Datastore(workspace, record["datastore"])
    if isinstance(datastore.backend, LocalBackend):
        return datastore.backend.full_path(record["path"])
    target = cache_root / record["fingerprint"]
    datastore.download(target, prefix=record["path"], overwrite=True, show_progress=False)
    return target / record["path"]
