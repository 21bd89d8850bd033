"""In-script run context: ``run = Run.get_context()``; standard library only.

Scripts import this inside environment images that contain neither Airflow nor this package's
dependencies (the step mounts the package read-only and puts it on ``PYTHONPATH``). The step
operator writes a context file named by ``$MLW_RUN_CONTEXT``; metrics are appended as JSON lines
to the file it names and collected by the operator when the script ends. Outside a run,
``Run.get_context()`` returns an offline run that prints metrics, as Azure's does.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

CONTEXT_ENV = "MLW_RUN_CONTEXT"


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
        """Read a tabular input with pandas/pyarrow from the environment (not this package)."""
        import pyarrow.dataset as pa_ds

        files = [str(Path(self.path) / f) for f in self._files] or [self.path]
        fmt = self._format
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


class Run:
    """The current run: metrics, files, inputs. Azure's in-script ``Run``."""

    def __init__(self, context: dict[str, Any]) -> None:
        self._context = context
        self.id: str = context.get("run_id", "OfflineRun")
        self.name = context.get("step_name") or self.id
        self.experiment_name = context.get("experiment")
        self.input_datasets = {
            name: InputDataset(name, spec) for name, spec in context.get("inputs", {}).items()
        }
        self.outputs_dir = context.get("outputs_dir", "outputs")

    @classmethod
    def get_context(cls, allow_offline: bool = True) -> Run:
        path = os.environ.get(CONTEXT_ENV)
        if not path:
            if not allow_offline:
                raise RuntimeError("not inside an airflow_mlw run and allow_offline=False")
            return OfflineRun()
        with open(path, encoding="utf-8") as handle:
            return cls(json.load(handle))

    def _write(self, kind: str, name: str, value: Any) -> None:
        record = {"kind": kind, "name": name, "value": value, "time": time.time()}
        with open(self._context["metrics_file"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, default=str) + "\n")

    def log(self, name: str, value: Any, description: str = "", step: int | None = None) -> None:
        """A scalar metric (logged again: a series)."""
        self._write("scalar", name, value)

    def log_list(self, name: str, value: list[Any], description: str = "") -> None:
        self._write("list", name, list(value))

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self._write("row", name, kwargs)

    def log_table(self, name: str, value: dict[str, list[Any]], description: str = "") -> None:
        self._write("table", name, value)

    def log_image(self, name: str, path: str | None = None, plot: Any = None, description: str = "") -> None:
        if path:
            self.upload_file(f"outputs/{Path(path).name}", path)
            self._write("image", name, f"outputs/{Path(path).name}")

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        """Keep a file with the run (``get_file_names()`` lists it)."""
        target = Path(self.outputs_dir) / name.removeprefix("outputs/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if hasattr(path_or_stream, "read"):
            target.write_bytes(path_or_stream.read())
        else:
            shutil.copyfile(path_or_stream, target)

    def complete(self) -> None:
        """The run completes when the script exits (kept for ported code)."""

    def register_model(self, model_name: str, model_path: str, **kwargs: Any) -> dict[str, Any]:
        """Ask the step to register ``model_path`` (relative to the working folder) after the script."""
        self._write("model", model_name, {"path": model_path, **kwargs})
        return {"name": model_name, "path": model_path}

    def __repr__(self) -> str:
        return f"Run(id={self.id!r})"


class OfflineRun(Run):
    """Outside a run: metrics are printed, files stay where they are."""

    def __init__(self) -> None:
        super().__init__({"run_id": "OfflineRun"})

    def _write(self, kind: str, name: str, value: Any) -> None:
        print(f"Attempted to log {kind} metric {name}:\n{value}", file=sys.stdout)

    def upload_file(self, name: str, path_or_stream: Any) -> None:
        print(f"Attempted to upload file {name}", file=sys.stdout)
