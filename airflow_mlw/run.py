"""In-script run context: ``run = Run.get_context()``; standard library only.

Scripts import this inside environment images that contain neither Airflow nor this package's
dependencies (the step mounts the package read-only and puts it on ``PYTHONPATH``). The step
operator writes a context file named by ``$MLW_RUN_CONTEXT``; metrics are appended as JSON lines
to the file it names and collected by the operator when the script ends. Outside a run,
``Run.get_context()`` returns an offline run that prints metrics, as Azure's does.
"""

from __future__ import annotations

import json
import operator
import os
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO, Any

from airflow_mlw.exceptions import RunError

CONTEXT_ENV = "MLW_RUN_CONTEXT"
#: Kinds of logged values, each kept with its kind so the UI can draw it.
METRIC_KINDS = (
    "scalar",
    "list",
    "row",
    "table",
    "image",
    "confusion_matrix",
    "accuracy_table",
    "predictions",
    "residuals",
)


class InputDataset:
    """``run.input_datasets[name]``: the materialised files of a step input."""

    def __init__(self, name: str, spec: dict[str, Any]) -> None:
        self.name = name
        self.path = spec["path"]
        self.kind = spec.get("kind", "file")
        self.version = spec.get("version")
        self.fingerprint = spec.get("fingerprint")
        self._format = spec.get("format") or {}
        self._files = spec.get("files") or []

    def to_pandas_dataframe(self) -> Any:
        """Read a tabular input with pyarrow from the environment, or pandas alone for delimited
        files when the environment has no pyarrow (``azureml-dataset-runtime[pandas]`` pins are
        not installed: the runtime is mounted)."""
        files = [str(Path(self.path) / f) for f in self._files] or [self.path]
        fmt = self._format
        try:
            import pyarrow.dataset as pa_ds
        except ImportError:
            if fmt.get("type") == "parquet":
                raise
            import pandas

            frames = [
                pandas.read_csv(
                    f, sep=fmt.get("separator") or ",", header=0 if fmt.get("header", True) else None
                )
                for f in files
            ]
            return pandas.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        if fmt.get("type") == "parquet":
            return pa_ds.dataset(files, format="parquet").to_table().to_pandas()
        import pyarrow.csv as pa_csv

        file_format = pa_ds.CsvFileFormat(
            parse_options=pa_csv.ParseOptions(delimiter=fmt.get("separator") or ","),
            read_options=pa_csv.ReadOptions(autogenerate_column_names=not fmt.get("header", True)),
        )
        return pa_ds.dataset(files, format=file_format).to_table().to_pandas()

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    def __repr__(self) -> str:
        return f"InputDataset(name={self.name!r}, path={self.path!r})"


class InputPath(str):
    """``run.input_datasets[name]`` of a mounted or downloaded file input: its path, as Azure
    gives it (``glob.glob(path + "/*.csv")``), with the input's name, version and fingerprint."""

    def __new__(cls, name: str, spec: dict[str, Any]) -> InputPath:
        path = super().__new__(cls, spec["path"])
        path.name = name
        path.path = spec["path"]
        path.kind = spec.get("kind", "file")
        path.version = spec.get("version")
        path.fingerprint = spec.get("fingerprint")
        path.partition_format = (spec.get("format") or {}).get("partition_format")
        hashes = spec.get("content_hashes")
        path.content_hashes = dict(zip(spec.get("files") or [], hashes, strict=False)) if hashes else {}
        return path

    name: str
    path: str
    kind: str
    version: Any
    fingerprint: Any
    partition_format: str | None
    #: relative path -> content hash of each file, from the validated manifest (else empty)
    content_hashes: dict[str, str]


def input_dataset(name: str, spec: dict[str, Any]) -> InputDataset | InputPath:
    """A tabular input reads as a dataset (``to_pandas_dataframe()``), a file input is its path."""
    return InputDataset(name, spec) if spec.get("kind") == "tabular" else InputPath(name, spec)


def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: NumPy/pandas scalars and arrays become Python numbers and lists
    (``run.log_list("counts", series.unique())``); anything else unknown becomes its text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    if callable(getattr(value, "tolist", None)):  # numpy arrays and scalars, pandas series
        return jsonable(value.tolist())
    if callable(getattr(value, "item", None)):
        return jsonable(value.item())
    return str(value)


class RunLogging:
    """Azure's logging and tagging methods, shared by every run object: each call is one record
    ``(kind, name, value)`` handed to :meth:`_write` (a file in scripts, the registry elsewhere)."""

    def _write(self, kind: str, name: str, value: Any, step: int | None = None) -> None:
        raise NotImplementedError

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """A scalar metric (logged again: a series); ``step``: where in the series (charts' x axis)."""
        if step is not None:
            try:
                step = operator.index(step)  # an int, numpy's too
            except TypeError:
                raise RunError(f"log({name!r}): step must be an integer, not {step!r}") from None
        self._write("scalar", name, value, step)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        self._write("list", name, list(value))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._write("row", name, kwargs)

    def log_table(self, name: str, value: dict[str, list[Any]], description: str = "") -> None:
        if not isinstance(value, dict) or not all(isinstance(v, list | tuple) for v in value.values()):
            raise RunError(f"log_table({name!r}): value must be a dict of column name -> list of values")
        self._write("table", name, {k: list(v) for k, v in value.items()})

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        """An image kept with the run: a file (``path``) or a matplotlib figure (``plot``), as PNG."""
        if (path is None) == (plot is None):
            raise RunError(f"log_image({name!r}): pass exactly one of path and plot")
        if plot is not None:
            figure = getattr(plot, "figure", plot)  # pyplot module, Axes or Figure
            if hasattr(plot, "gcf"):
                figure = plot.gcf()
            if not callable(getattr(figure, "savefig", None)):
                raise RunError(
                    f"log_image({name!r}): plot must be a matplotlib figure (or pyplot), not {type(plot).__name__}"
                )
            with tempfile.TemporaryDirectory(prefix="mlw-image-") as folder:
                png = Path(folder) / f"{name}.png"
                figure.savefig(png, format="png")
                self.upload_file(f"outputs/{png.name}", str(png))
                self._write("image", name, f"outputs/{png.name}")
            return
        assert path is not None
        self.upload_file(f"outputs/{Path(path).name}", path)
        self._write("image", name, f"outputs/{Path(path).name}")

    def _log_json(self, kind: str, name: str, value: Any) -> None:
        parsed = json.loads(value) if isinstance(value, str) else value
        if not isinstance(parsed, dict):
            raise RunError(f"{kind} {name!r}: value must be a dict or its JSON, not {type(value).__name__}")
        self._write(kind, name, parsed)

    def log_confusion_matrix(self, name: str, value: Any, description: str = "") -> None:
        """Azure's confusion-matrix schema: ``{"schema_type": "confusion_matrix", "data": {...}}``."""
        self._log_json("confusion_matrix", name, value)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        self._log_json("accuracy_table", name, value)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        self._log_json("predictions", name, value)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        self._log_json("residuals", name, value)

    # -- tags and properties ------------------------------------------------------------------------

    def tag(self, key: str, value: Any = None) -> None:
        self._write("tag", key, "" if value is None else str(value))

    def set_tags(self, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.tag(key, value)

    def remove_tags(self, tags: list[str]) -> None:
        for key in tags:
            self._write("untag", key, None)

    def add_properties(self, properties: dict[str, Any]) -> None:
        """Properties are immutable: setting one again to another value is refused."""
        current = self.get_properties()
        for key, value in properties.items():
            if key in current and current[key] != str(value):
                raise RunError(
                    f"run {getattr(self, 'id', '?')}: property {key!r} is {current[key]!r} and cannot be changed "
                    f"to {str(value)!r} (properties are immutable; use tags for mutable values)"
                )
        for key, value in properties.items():
            self._write("property", key, str(value))

    def get_properties(self) -> dict[str, str]:
        return dict(getattr(self, "_properties", {}))

    def get_tags(self) -> dict[str, str]:
        return dict(getattr(self, "_tags", {}))

    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: str | None = None
    ) -> Any:
        raise NotImplementedError

    def create_children(
        self, count: int | None = None, tag_key: str | None = None, tag_values: list[str] | None = None
    ) -> list[Any]:
        """``count`` child runs, or one per ``tag_values`` entry tagged ``tag_key``."""
        if tag_values is not None:
            if tag_key is None:
                raise RunError("create_children: tag_values needs a tag_key")
            children = [self.child_run() for _ in tag_values]
            for child, value in zip(children, tag_values, strict=True):
                child.tag(tag_key, value)
            return children
        if not isinstance(count, int) or count < 1:
            raise RunError(f"create_children: count must be a positive integer, not {count!r}")
        return [self.child_run() for _ in range(count)]

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        raise NotImplementedError


class Run(RunLogging):
    """The current run: metrics, files, inputs. Azure's in-script ``Run``.

    ``Run(experiment, run_id)`` and ``Run.get(workspace, run_id)`` return the handle of a stored
    run (``airflow_mlw.runs``), as Azure's constructor does.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Run and (kwargs.get("experiment") is not None or (args and not isinstance(args[0], dict))):
            from airflow_mlw.runs.submitted import SubmittedRun

            return SubmittedRun.of_experiment(*args, **kwargs)
        return super().__new__(cls)

    @staticmethod
    def get(workspace: Any, run_id: str) -> Any:
        """The stored run ``run_id`` of the workspace (``RunNotFoundError`` when there is none)."""
        from airflow_mlw.runs.submitted import SubmittedRun

        return SubmittedRun.get(workspace, run_id)

    def __init__(self, context: dict[str, Any], _parent: Run | None = None) -> None:
        self._context = context
        self.id: str = context.get("run_id", "OfflineRun")
        self.name = context.get("step_name") or self.id
        self.experiment_name = context.get("experiment")
        self.input_datasets = {
            name: input_dataset(name, spec) for name, spec in context.get("inputs", {}).items()
        }
        self.outputs_dir = context.get("outputs_dir", "outputs")
        self.parent = _parent
        self._handle: IO[str] | None = None
        self._tags: dict[str, Any] = {}
        self._properties: dict[str, Any] = {}

    @classmethod
    def get_context(cls, allow_offline: bool = True, **_azure_only: Any) -> Run:
        path = os.environ.get(CONTEXT_ENV)
        if not path:
            if not allow_offline:
                raise RunError("not inside an airflow_mlw run and allow_offline=False")
            return OfflineRun()
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle))

    def _write(self, kind: str, name: str, value: Any, step: int | None = None) -> None:
        # What this script set, so get_tags/get_properties answer and properties stay immutable.
        if kind == "tag":
            self._tags[name] = value
        elif kind == "untag":
            self._tags.pop(name, None)
        elif kind == "property":
            self._properties[name] = value
        record: dict[str, Any] = {"kind": kind, "name": name, "value": value, "time": time.time()}
        if step is not None:
            record["step"] = step
        if self.parent is not None:
            record["run"] = self.id
        root = self._root()
        if root._handle is None:
            # One handle, flushed per record: a SIGKILLed script loses nothing it logged.
            root._handle = open(root._context["metrics_file"], "a", encoding="utf-8")  # noqa: SIM115
        record["value"] = jsonable(value)
        root._handle.write(json.dumps(record, default=str) + "\n")
        root._handle.flush()

    def _root(self) -> Run:
        return self if self.parent is None else self.parent._root()

    @property
    def experiment(self) -> ScriptExperiment:
        """The run's experiment; its ``workspace`` takes ``Model.register`` (done after the script)."""
        workspace = ScriptWorkspace(self._context.get("workspace") or "", self)
        return ScriptExperiment(self.experiment_name or "", workspace)

    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: str | None = None
    ) -> Run:
        """A child run of this one (Azure's ``run.child_run``); its metrics and tags are its own."""
        child = Run(
            {**self._context, "run_id": run_id or uuid.uuid4().hex, "step_name": name, "inputs": {}},
            _parent=self,
        )
        self._root()._write("child", name or "", {"id": child.id, "parent": self.id})
        return child

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        """Keep a file with the run (``get_file_names()`` lists it)."""
        target = Path(self.outputs_dir) / name.removeprefix("outputs/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(path_or_stream, "read"):
            target.write_bytes(path_or_stream.read())
        else:
            shutil.copyfile(path_or_stream, target)

    def complete(self, _set_status: bool = True) -> None:
        """A child completes here; the script's own run completes when the script exits."""
        if self.parent is not None:
            self._root()._write("status", self.id, "Finished")

    def fail(self, error_details: Any = None, error_code: Any = None, _set_status: bool = True) -> None:
        if self.parent is None:
            raise RunError("a script's own run fails when the script exits non-zero: raise or sys.exit(1)")
        self._root()._write("status", self.id, {"status": "Failed", "error": str(error_details or "")})

    def register_model(self, model_name: str, model_path: str, **kwargs: Any) -> dict[str, Any]:
        """Ask the step to register ``model_path`` (relative to the working folder) after the script."""
        self._write("model", model_name, {"path": model_path, **kwargs})
        return {"name": model_name, "path": model_path}

    def __repr__(self) -> str:
        return f"Run(id={self.id!r})"


class ScriptWorkspace:
    """``run.experiment.workspace`` inside a script: the workspace by name. ``Model.register(
    workspace=run.experiment.workspace, model_path=..., ...)`` becomes the run's request, which the
    step registers once the script succeeded (as ``run.register_model``)."""

    def __init__(self, name: str, run: Run) -> None:
        self.name = name
        self._in_script_run = run

    def __repr__(self) -> str:
        return f"Workspace(name={self.name!r}) (inside run {self._in_script_run.id})"


class ScriptExperiment:
    """``run.experiment`` inside a script."""

    def __init__(self, name: str, workspace: ScriptWorkspace) -> None:
        self.name = name
        self.workspace = workspace

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r})"


class OfflineRun(Run):
    """Outside a run: metrics are printed, files stay where they are."""

    def __init__(self) -> None:
        super().__init__({"run_id": "OfflineRun"})

    def _write(self, kind: str, name: str, value: Any, step: int | None = None) -> None:
        print(f"Attempted to log {kind} metric {name}:\n{value}", file=sys.stdout)

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        print(f"Attempted to upload file {name}", file=sys.stdout)

    def create_children(self, *args: Any, **kwargs: Any) -> list[Run]:
        raise RunError(
            "create_children needs a run: call it inside a submitted script or on start_logging()'s run"
        )

    def child_run(self, *args: Any, **kwargs: Any) -> Run:
        raise RunError("child_run needs a run: call it inside a submitted script or on start_logging()'s run")
