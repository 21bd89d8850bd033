"""Runs as Azure ML v1 has them: interactive logging, every metric kind, tags and properties, child
runs (interactively and inside scripts), lookups, filters and details — on the real registry and,
for scripts, a real in-process Airflow DAG run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.core import Experiment, Run, ScriptRunConfig
from airflow_mlw.exceptions import MlwError, RunError, RunNotFoundError

CONFUSION = {
    "schema_type": "confusion_matrix",
    "schema_version": "1.0.0",
    "data": {"class_labels": ["0", "1"], "matrix": [[5, 1], [2, 7]]},
}


def test_start_logging_records_every_kind_in_the_registry(workspace: Any, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    experiment = Experiment(workspace, "notebook")
    run = experiment.start_logging()
    assert run.get_status() == "Running"
    run.log("alpha", 0.1)
    for loss in (0.9, 0.5, 0.3):
        run.log("loss", loss)
    run.log_list("folds", [0.8, 0.82, 0.79])
    run.log_row("by_class", label="a", precision=0.9)
    run.log_table("roc", {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.8, 1.0]})
    run.log_confusion_matrix("confusion", CONFUSION)
    figure, axes = plt.subplots()
    axes.plot([1, 2, 3], [3, 1, 2])
    run.log_image("curve", plot=figure)
    (tmp_path / "notes.txt").write_text("kept")
    run.upload_file("outputs/notes.txt", str(tmp_path / "notes.txt"))
    run.tag("stage", "dev")
    run.set_tags({"owner": "ana", "flag": None})
    run.remove_tags(["flag"])
    run.add_properties({"dataset_version": "3"})
    run.complete()

    assert run.get_status() == "Finished"
    metrics = run.get_metrics()
    assert metrics["alpha"] == 0.1 and metrics["loss"] == [0.9, 0.5, 0.3]
    assert metrics["folds"] == [0.8, 0.82, 0.79]
    assert metrics["by_class"] == {"label": "a", "precision": 0.9}
    assert metrics["roc"] == {"fpr": [0.0, 0.5, 1.0], "tpr": [0.0, 0.8, 1.0]}
    assert metrics["confusion"]["data"]["matrix"] == [[5, 1], [2, 7]]
    assert metrics["curve"] == "outputs/curve.png"
    assert sorted(run.get_file_names()) == ["outputs/curve.png", "outputs/notes.txt"]
    png = run.download_file("outputs/curve.png", str(tmp_path / "curve.png"))
    assert Path(png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert run.get_tags() == {"stage": "dev", "owner": "ana"}
    assert run.get_properties() == {"dataset_version": "3"}
    # The kinds stay apart in the registry, for the UI to draw.
    from airflow_mlw.execution.records import load_metrics

    kinds = {name: kind for name, kind, _ in load_metrics(workspace, run.id)}
    assert kinds["roc"] == "table" and kinds["confusion"] == "confusion_matrix" and kinds["curve"] == "image"

    # Looked up again as Azure does.
    again = Run(experiment, run.id)
    assert again.id == run.id and again.get_metrics()["alpha"] == 0.1
    assert Run.get(workspace, run.id).get_tags()["owner"] == "ana"
    details = run.get_details()
    assert {
        "runId",
        "status",
        "startTimeUtc",
        "endTimeUtc",
        "properties",
        "inputDatasets",
        "outputDatasets",
        "runDefinition",
        "logFiles",
    } <= set(details)
    assert details["properties"] == {"dataset_version": "3"}
    downloaded = run.download_files(prefix="outputs", output_directory=str(tmp_path / "all"))
    assert sorted(Path(p).name for p in downloaded) == ["curve.png", "notes.txt"]


def test_refusals_are_named_errors(workspace: Any) -> None:
    experiment = Experiment(workspace, "refusals")
    with pytest.raises(RunNotFoundError, match="no run with id 'nope'"):
        Run(experiment, "nope")
    with pytest.raises(RunNotFoundError):
        Run.get(workspace, "nope")
    run = experiment.start_logging()
    run.add_properties({"split": "0.3"})
    run.add_properties({"split": "0.3"})  # the same value again is fine
    with pytest.raises(RunError, match="property 'split' is '0.3' and cannot be changed"):
        run.add_properties({"split": "0.5"})
    with pytest.raises(RunError, match="plot must be a matplotlib figure"):
        run.log_image("bad", plot=object())
    run.complete()
    with pytest.raises(RunError, match="is Finished: a finished run takes no more metrics"):
        run.log("late", 1)
    with pytest.raises(RunError, match="already Finished"):
        run.complete()
    run.tag("reviewed", "yes")  # tags stay editable, as in Azure
    assert run.get_tags() == {"reviewed": "yes"}
    offline = Run.get_context()
    with pytest.raises(RunError, match="create_children needs a run"):
        offline.create_children(2)
    other = Experiment(workspace, "other").start_logging()
    with pytest.raises(RunNotFoundError, match="not a run of experiment 'refusals'"):
        Run(experiment, other.id)
    assert isinstance(RunNotFoundError("x"), MlwError)


def test_interactive_children_fail_and_context_manager(workspace: Any) -> None:
    experiment = Experiment(workspace, "parents")
    with experiment.start_logging() as parent:
        children = parent.create_children(tag_key="fold", tag_values=["0", "1", "2"])
        for index, child in enumerate(children):
            child.log("score", index / 10)
            child.complete()
        lone = parent.child_run("lone")
        lone.fail(error_details="diverged")
    assert parent.get_status() == "Finished"
    found = parent.get_children()
    assert [c.get_tags().get("fold") for c in found[:3]] == ["0", "1", "2"]
    assert [c.get_metrics()["score"] for c in found[:3]] == [0.0, 0.1, 0.2]
    assert found[3].get_status() == "Failed" and found[3].get_details()["error"]["message"] == "diverged"
    assert found[0].parent.id == parent.id
    assert [c.id for c in parent.get_children(tags={"fold": "1"})] == [children[1].id]
    with pytest.raises(ZeroDivisionError), experiment.start_logging() as failing:
        raise ZeroDivisionError("boom")
    assert failing.get_status() == "Failed"
    failing_details = failing.get_details()
    assert failing_details["error"]["message"] == "ZeroDivisionError: boom"
    canceled = experiment.start_logging()
    canceled.cancel()
    assert canceled.get_status() == "Canceled"


SCRIPT = """
from airflow_mlw.core import Run

run = Run.get_context()
run.tag("model", "logreg")
run.add_properties({"features": "8"})
run.log_table("coefficients", {"name": ["a", "b"], "value": [0.5, -0.2]})
run.log_confusion_matrix("confusion", {"schema_type": "confusion_matrix", "data": {"matrix": [[1, 0], [0, 1]]}})
for child in run.create_children(tag_key="alpha", tag_values=["0.1", "1.0"]):
    child.log("auc", 0.7 if child.get_tags()["alpha"] == "0.1" else 0.8)
    child.complete()
inner = run.child_run("inner")
inner.log("depth", 2)
grandchild = inner.child_run("grandchild")
grandchild.log("depth", 3)
try:
    run.add_properties({"features": "9"})
except Exception as error:
    run.log("property_refused", type(error).__name__)
run.log("accuracy", 0.91)
"""


def test_script_runs_log_kinds_tags_properties_and_children(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text(SCRIPT)
    experiment = Experiment(workspace, "scripted")
    run = experiment.submit(ScriptRunConfig(str(tmp_path / "src"), "train.py"))
    assert run.get_status() == "Finished"
    metrics = run.get_metrics()
    assert metrics["accuracy"] == 0.91 and metrics["property_refused"] == "RunError"
    assert metrics["coefficients"] == {"name": ["a", "b"], "value": [0.5, -0.2]}
    assert "depth" not in metrics and "auc" not in metrics  # children's metrics are theirs
    assert run.get_tags() == {"model": "logreg"}
    assert run.get_properties() == {"features": "8"}
    children = run.get_children()
    assert [(c.name, c.get_tags(), c.get_metrics()) for c in children] == [
        (None, {"alpha": "0.1"}, {"auc": 0.7}),
        (None, {"alpha": "1.0"}, {"auc": 0.8}),
        ("inner", {}, {"depth": 2}),
    ]
    assert all(c.get_status() == "Finished" for c in children)
    everything = run.get_children(recursive=True)
    assert [c.name for c in everything][-2:] == ["inner", "grandchild"]
    assert everything[-1].get_metrics() == {"depth": 3} and everything[-1].parent.id == children[2].id


def test_get_runs_filters_newest_first(workspace: Any) -> None:
    experiment = Experiment(workspace, "filtered")
    first = experiment.start_logging()
    first.tag("team", "a")
    first.add_properties({"kind": "baseline"})
    first.complete()
    second = experiment.start_logging()
    second.tag("team", "b")
    second.child_run("child").complete()
    second.complete()
    assert [r.id for r in experiment.get_runs()] == [second.id, first.id]
    assert [r.id for r in experiment.get_runs(tags={"team": "a"})] == [first.id]
    assert [r.id for r in experiment.get_runs(tags="team")] == [second.id, first.id]
    assert [r.id for r in experiment.get_runs(properties={"kind": "baseline"})] == [first.id]
    assert len(experiment.get_runs(include_children=True)) == 3
    assert experiment.get_runs(type="pipeline") == []
    assert [r.id for r in experiment.get_runs(type="interactive")] == [second.id, first.id]
    assert "filtered" in [e.name for e in Experiment.list(workspace)]


def test_metrics_logged_before_a_sigkill_are_kept(workspace: Any, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "killed.py").write_text(
        "import os, signal\nfrom airflow_mlw.core import Run\nrun = Run.get_context()\n"
        "for i in range(300):\n    run.log('step', i)\nos.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = Experiment(workspace, "killed").submit(ScriptRunConfig(str(tmp_path / "src"), "killed.py"))
    assert run.get_status() == "Failed"
    assert run.get_metrics()["step"] == list(range(300))


def test_portal_urls_are_pages_on_the_api_server(workspace: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://airflow.example:8123")
    experiment = Experiment(workspace, "portal")
    run = experiment.start_logging()
    assert run.get_portal_url() == f"http://airflow.example:8123/mlw/ui/runs/{run.id}"
    assert experiment.get_portal_url() == "http://airflow.example:8123/mlw/ui/runs?experiment=portal"


def test_a_run_knows_its_environment_and_definition(workspace: Any, tmp_path: Path) -> None:
    from airflow_mlw.core import Environment
    from airflow_mlw.core.conda_dependencies import CondaDependencies

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "noop.py").write_text("print('ok')\n")
    environment = Environment("noop-env")
    environment.environment_variables = {"MODE": "test"}
    environment.python.conda_dependencies = CondaDependencies.create(pip_packages=[])
    config = ScriptRunConfig(str(tmp_path / "src"), "noop.py", arguments=["--n", 2], environment=environment)
    run = Experiment(workspace, "definition").submit(config)
    used = run.get_environment()
    assert (used.name, used.spec_hash) == ("noop-env", environment.spec_hash)
    definition = run.get_details()["runDefinition"]
    assert (definition["script"], definition["arguments"], definition["target"]) == (
        "noop.py",
        ["--n", "2"],
        "local",
    )
    with pytest.raises(RunError, match="ran no environment"):
        Experiment(workspace, "definition").start_logging().get_environment()
    import zipfile

    snapshot = run.restore_snapshot(path=str(tmp_path / "restored"))
    assert Path(snapshot) == tmp_path / "restored" / f"{run.id}.zip"
    assert zipfile.ZipFile(snapshot).read("noop.py") == b"print('ok')\n"


def test_numpy_values_are_logged_as_numbers(workspace: Any, tmp_path: Path) -> None:
    import numpy as np

    run = Experiment(workspace, "numpy").start_logging()
    run.log("count", np.int64(7))
    run.log_list("categories", np.array([0, 8, 7]))
    run.log_row("row", mean=np.float32(0.5))
    run.complete()
    assert run.get_metrics() == {"count": 7, "categories": [0, 8, 7], "row": {"mean": 0.5}}
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "np.py").write_text(
        "import numpy as np\nfrom airflow_mlw.core import Run\nRun.get_context().log_list('c', np.arange(3))\n"
    )
    scripted = Experiment(workspace, "numpy").submit(ScriptRunConfig(str(tmp_path / "src"), "np.py"))
    assert scripted.get_metrics() == {"c": [0, 1, 2]}


def test_archived_experiments_leave_the_active_list(workspace: Any) -> None:
    kept, gone = Experiment(workspace, "kept"), Experiment(workspace, "gone")
    kept.start_logging().complete()
    gone.start_logging().complete()
    gone.archive()
    assert gone.archived_time is not None
    assert [e.name for e in Experiment.list(workspace)] == ["kept"]
    assert [e.name for e in Experiment.list(workspace, view_type="ArchivedOnly")] == ["gone"]
    assert [e.name for e in Experiment.list(workspace, view_type="All")] == ["gone", "kept"]
    assert len(gone.get_runs()) == 1  # its runs stay
    gone.reactivate()
    assert [e.name for e in Experiment.list(workspace)] == ["gone", "kept"]
    with pytest.raises(MlwError, match="view_type must be one of"):
        Experiment.list(workspace, view_type="Everything")


def metric_rows(workspace: Any, run_id: str) -> list[Any]:
    from sqlalchemy import select

    from airflow_mlw.registry.rows import MetricRow

    with workspace.store.session() as session:
        rows = session.scalars(select(MetricRow).where(MetricRow.run_id == run_id).order_by(MetricRow.id))
        return [(row.name, row.value, row.step) for row in rows]


def test_a_metric_keeps_the_step_it_was_logged_at(workspace: Any, tmp_path: Path) -> None:
    import numpy as np

    from airflow_mlw.plugins.ui.metric_charts import run_charts
    from airflow_mlw.registry.rows import MetricRow

    run = Experiment(workspace, "steps").start_logging()
    for step, loss in ((0, 0.9), (10, 0.5), (np.int64(20), 0.25)):
        run.log("loss", loss, step=step)
    run.log("lr", 0.1)
    run.log("lr", 0.01)
    with pytest.raises(RunError, match=r"log\('loss'\): step must be an integer, not 'late'"):
        run.log("loss", 0.1, step="late")
    run.complete()
    assert run.get_metrics() == {"loss": [0.9, 0.5, 0.25], "lr": [0.1, 0.01]}, "values as Azure returns them"
    assert metric_rows(workspace, run.id) == [
        ("loss", 0.9, 0),
        ("loss", 0.5, 10),
        ("loss", 0.25, 20),
        ("lr", 0.1, None),
        ("lr", 0.01, None),
    ]
    rows = [MetricRow(name=n, kind="scalar", value=v, step=s) for n, v, s in metric_rows(workspace, run.id)]
    charts = {chart.title: chart.data for chart in run_charts(rows).charts}
    assert [(r["x"], r["y"]) for r in charts["loss"]["rows"]] == [(0, 0.9), (10, 0.5), (20, 0.25)]
    assert charts["loss"]["x_title"] == "step"
    assert [r["x"] for r in charts["lr"]["rows"]] == [1, 2], "no steps: drawn by position"

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "epochs.py").write_text(
        "from airflow_mlw.core import Run\nrun = Run.get_context()\n"
        "for epoch in (1, 2, 4):\n    run.log('acc', epoch / 10, step=epoch)\n"
    )
    scripted = Experiment(workspace, "steps").submit(ScriptRunConfig(str(tmp_path / "src"), "epochs.py"))
    scripted.wait_for_completion()
    assert scripted.get_metrics() == {"acc": [0.1, 0.2, 0.4]}
    assert [step for _, _, step in metric_rows(workspace, scripted.id)] == [1, 2, 4]
