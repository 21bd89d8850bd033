"""Data passed between steps: ``PipelineData``, ``OutputFileDatasetConfig``, ``PipelineParameter``,
``DataPath``. Building them does no I/O; each renders to a small JSON spec the step operator reads.
"""

from __future__ import annotations

from typing import Any

from airflow_mlw._lazy import loaded_class
from airflow_mlw.exceptions import MlwError

INPUT_MARK = "@mlw:input:{}@"
OUTPUT_MARK = "@mlw:output:{}@"
#: An input's or output's place in an argument (a pattern: ``re`` compiles it when a step runs, not
#: when a DAG file is parsed).
MARK_PATTERN = r"@mlw:(input|output):([A-Za-z0-9_]+)@"


def check_name(name: str, what: str) -> str:
    # An ASCII identifier is exactly [A-Za-z_][A-Za-z0-9_]* (and needs no regex at parse time).
    if not isinstance(name, str) or not (name.isascii() and name.isidentifier()):
        raise MlwError(
            f"invalid {what} name {name!r}: letters, digits and underscores, not starting with a digit"
        )
    return name


def datastore_name(datastore: Any) -> str | None:
    """A datastore object or name -> the name (``None``: the workspace default), without I/O."""
    if datastore is None:
        return None
    if isinstance(datastore, str):
        return datastore
    return getattr(datastore, "_requested_name", None) or None


class PipelineData:
    """An output of one step that other steps consume (Azure's ``PipelineData``).

    Written under ``<datastore>/mlw/runs/<dag_id>/<run_id>/<step>/<output>/`` and committed
    atomically when the producing step succeeds.
    """

    def __init__(
        self,
        name: str,
        datastore: Any = None,
        output_name: str | None = None,
        output_mode: str = "mount",
        output_path_on_compute: str | None = None,
        output_overwrite: bool | None = None,
        data_type: str | None = None,
        is_directory: bool | None = None,
        pipeline_output_name: str | None = None,
        training_output: Any = None,
    ) -> None:
        self.name = check_name(name, "PipelineData")
        self.datastore = datastore
        self.output_name = output_name or name
        self.is_directory = True if is_directory is None else is_directory
        self.mode = "mount"
        #: What a HyperDriveStep puts here (``TrainingOutput("Model" | "Metrics")``).
        self.training_output = training_output
        self._producer: Any = None
        self._register: dict[str, Any] | None = None
        self._input_name: str | None = None

    # Producer and consumers see the same object; ``as_*`` return views that remember how to read it.
    def _view(self, **changes: Any) -> PipelineData:
        view = object.__new__(type(self))
        view.__dict__.update(self.__dict__)
        view.__dict__.update(changes)
        view.__dict__["_origin"] = getattr(self, "_origin", self)
        return view

    @property
    def origin(self) -> PipelineData:
        return getattr(self, "_origin", self)

    def as_input(self, input_name: str | None = None) -> PipelineData:
        return self._view(_input_name=input_name)

    def as_download(
        self, input_name: str | None = None, path_on_compute: str | None = None, overwrite: bool | None = None
    ) -> PipelineData:
        return self._view(mode="download", _input_name=input_name)

    def as_mount(self, input_name: str | None = None) -> PipelineData:
        return self._view(mode="mount", _input_name=input_name)

    def as_dataset(self) -> PipelineData:
        return self

    def register(
        self, name: str, create_new_version: bool = True, tags: dict[str, str] | None = None
    ) -> PipelineData:
        """Register the committed output as a file dataset version after the producing step succeeds."""
        self.origin._register = {"name": name, "create_new_version": create_new_version, "tags": tags or {}}
        return self

    @property
    def input_name(self) -> str:
        return self._input_name or self.name

    def output_spec(self) -> dict[str, Any]:
        return {
            "name": self.origin.name,
            "datastore": datastore_name(self.origin.datastore),
            "destination": None,
            "register": self.origin._register,
        }

    def __str__(self) -> str:
        return INPUT_MARK.format(self.name)

    def __repr__(self) -> str:
        return f"$AZUREML_DATAREFERENCE_{self.name}"


class OutputFileDatasetConfig(PipelineData):
    """An output written to ``destination=(datastore, 'path/{run-id}/{output-name}')`` (Azure's class).

    ``{run-id}`` becomes the Airflow run id and ``{output-name}`` the output's name.
    """

    def __init__(
        self,
        name: str | None = None,
        destination: tuple[Any, str] | None = None,
        source: str | None = None,
        partition_format: str | None = None,
    ) -> None:
        super().__init__(name or "output", datastore=destination[0] if destination else None)
        self.destination = destination[1] if destination else None

    def register_on_complete(
        self, name: str, description: str | None = None, tags: dict[str, str] | None = None
    ) -> OutputFileDatasetConfig:
        self.register(name, True, tags)
        return self

    def read_delimited_files(self, **kwargs: Any) -> OutputFileDatasetConfig:
        self.origin._register = {**(self.origin._register or {}), "tabular": kwargs}
        return self

    def as_input(self, name: str | None = None) -> OutputFileDatasetConfig:
        return self._view(_input_name=name)  # type: ignore[return-value]

    def output_spec(self) -> dict[str, Any]:
        spec = super().output_spec()
        spec["destination"] = getattr(self.origin, "destination", None)
        return spec


class PipelineParameter:
    """A run-time parameter: an Airflow ``Param`` on the DAG, set from the trigger form or ``conf``.

    Its default may be a dataset: ``ds_param.as_named_input('data')`` (or
    ``DatasetConsumptionConfig('data', ds_param)``) is then a step input whose dataset each run
    chooses (``submit(pipeline_parameters={'ds_param': other})``, REST
    ``DataSetDefinitionValueAssignments``, or the trigger form's ``{"name", "version"}`` field).
    """

    def __init__(self, name: str, default_value: Any) -> None:
        self.name = check_name(name, "PipelineParameter")
        self.default_value = default_value

    @property
    def is_dataset(self) -> bool:
        return is_dataset(self.default_value)

    @property
    def param_default(self) -> Any:
        """The default as the DAG Param holds it (a DataPath or dataset as JSON)."""
        return parameter_value(self.default_value)

    @property
    def json_type(self) -> str | list[str]:
        value = self.default_value
        if isinstance(value, bool):
            return "boolean"
        if isinstance(value, int):
            return "integer"
        if isinstance(value, float):
            return "number"
        if isinstance(value, DataPath) or self.is_dataset:
            return "object"
        return "string"

    def as_named_input(self, name: str) -> Any:
        """This dataset parameter as a step input named ``name``."""
        return self._consumption(name, "direct")

    def as_mount(self, path_on_compute: str | None = None) -> Any:
        return self._consumption(self.name, "mount", path_on_compute)

    def as_download(self, path_on_compute: str | None = None) -> Any:
        return self._consumption(self.name, "download", path_on_compute)

    def _consumption(self, name: str, mode: str, path_on_compute: str | None = None) -> Any:
        if not self.is_dataset:
            raise MlwError(f"pipeline parameter {self.name!r} has no dataset default: it cannot be an input")
        from airflow_mlw.datasets.consumption import DatasetConsumptionConfig

        return DatasetConsumptionConfig(name, self, mode, path_on_compute)

    def __str__(self) -> str:
        return "{{ params." + self.name + " }}"

    def __repr__(self) -> str:
        return f"PipelineParameter(name={self.name!r}, default_value={self.default_value!r})"


def is_dataset(value: Any) -> bool:
    """``value`` is a dataset object (without importing the datasets package at parse time)."""
    return isinstance(value, loaded_class("airflow_mlw.datasets.base", "AbstractDataset"))


def parameter_value(value: Any, workspace: Any = None) -> Any:
    """A pipeline parameter value as DAG-run ``conf`` and ``Param`` hold it: a ``DataPath`` in
    Azure's JSON shape, a registered dataset as ``{"name", "version", "id"}``, an unregistered one
    as ``{"kind", "definition"}``; anything else as it is.

    :param workspace: the pipeline's workspace; a dataset of another workspace is refused
    """
    if isinstance(value, DataPath):
        return value.to_json()
    if not is_dataset(value):
        return value
    if workspace is not None and value._workspace is not None:
        ours, theirs = workspace, value._workspace
        if (ours.name, ours.settings.registry_url) != (theirs.name, theirs.settings.registry_url):
            raise MlwError(
                f"dataset {value.name or '(unregistered)'!r} belongs to workspace {theirs.name!r}, "
                f"not to the pipeline's workspace {ours.name!r}"
            )
    if value.name and value.follows_latest:
        return {"name": value.name, "version": "latest"}
    if isinstance(value, loaded_class("airflow_mlw.datasets.factory", "DatasetByName")):
        return {"name": value.name, "version": value.pinned_version}  # not read: no I/O at parse
    if value.name:
        return {"name": value.name, "version": value.version, "id": value.id}
    return {"kind": value.kind, "definition": value.definition}


class DataPath:
    """A path on a datastore that a pipeline parameter can carry (Azure's ``DataPath``)."""

    def __init__(
        self, datastore: Any = None, path_on_datastore: str | None = None, name: str | None = None
    ) -> None:
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore or ""
        self.name = name

    def to_json(self) -> dict[str, Any]:
        return {"DataStoreName": datastore_name(self.datastore), "RelativePath": self.path_on_datastore}


class DataPathInput:
    """The pair ``(PipelineParameter(name, default_value=DataPath(...)), DataPathComputeBinding(...))``:
    a datastore path chosen per run (trigger form, ``conf``, ``DataPathAssignments``)."""

    def __init__(self, parameter: PipelineParameter, binding: DataPathComputeBinding) -> None:
        if not isinstance(parameter.default_value, DataPath):
            raise MlwError(
                f"pipeline parameter {parameter.name!r} needs a DataPath default to bind a data path"
            )
        self.parameter = parameter
        self.binding = binding
        self.name = parameter.name

    @staticmethod
    def wrap(item: Any) -> Any:
        """A ``(PipelineParameter, DataPathComputeBinding)`` tuple becomes a ``DataPathInput``."""
        if (
            isinstance(item, tuple)
            and len(item) == 2
            and isinstance(item[0], PipelineParameter)
            and isinstance(item[1], DataPathComputeBinding)
        ):
            return DataPathInput(item[0], item[1])
        return item


class DataPathComputeBinding:
    """How a ``DataPath`` parameter reaches the step (``mount`` or ``download``)."""

    def __init__(
        self, mode: str = "mount", path_on_compute: str | None = None, overwrite: bool = False
    ) -> None:
        self.mode = mode
        self.path_on_compute = path_on_compute
