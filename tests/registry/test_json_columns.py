"""The registry's JSON columns keep non-finite floats on every database (PostgreSQL's JSON refuses
the ``NaN`` token Python writes): a script's NaN loss is a NaN metric, not a failed step."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from airflow_mlw.core import Experiment, ScriptRunConfig
from airflow_mlw.workspace import Workspace


def test_nan_and_infinite_metrics_survive_the_registry(registry_url: str, tmp_path: Path) -> None:
    workspace = Workspace.create("nan", registry_url=registry_url)
    source = tmp_path / "src"
    source.mkdir()
    (source / "loss.py").write_text(
        "from airflow_mlw.core import Run\nrun = Run.get_context()\n"
        "run.log('loss', float('nan'))\nrun.log('loss', 0.5)\n"
        "run.log_row('ratio', x=float('inf'), y=-float('inf'))\nrun.tag('note', 'nan')\n"
    )
    run = Experiment(workspace, "nan").submit(ScriptRunConfig(str(source), "loss.py"))
    run.wait_for_completion()
    assert run.get_status() == "Finished"
    metrics: dict[str, Any] = run.get_metrics()
    first, second = metrics["loss"]
    assert math.isnan(first) and second == 0.5
    assert metrics["ratio"] == {"x": math.inf, "y": -math.inf}
    assert run.get_tags()["note"] == "nan"  # a string stays a string
