"""A small published pipeline (one script step, a string and a DataPath parameter) for schedule tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def publish_pipeline(workspace: Any, tmp_path: Path, dag_id: str = "mlw_target", name: str = "target") -> Any:
    """Publish a pipeline whose DAG is ``dag_id`` (no DAG file written) on datastore ``files``."""
    from airflow_mlw import Datastore
    from airflow_mlw.pipelines import (
        DataPath,
        DataPathComputeBinding,
        Pipeline,
        PipelineParameter,
        PythonScriptStep,
    )

    source = tmp_path / "src"
    source.mkdir(exist_ok=True)
    (source / "s.py").write_text("print(1)\n")
    greeting = PipelineParameter("greeting", default_value="hello")
    incoming = PipelineParameter("incoming", default_value=DataPath(Datastore(workspace, "files"), "in"))
    step = PythonScriptStep(
        "s.py",
        name="s",
        source_directory=str(source),
        arguments=["--greeting", greeting, "--incoming", (incoming, DataPathComputeBinding())],
    )
    return Pipeline(workspace, [step]).publish(name, dag_id=dag_id)
