"""The package's floors: a module-level import points only down (or across one floor).

An upward import is allowed only deferred (inside a function) and only where ``ALLOWED_UPWARD``
lists it: the Azure convenience methods that must live on lower objects. Each module is parsed
with ``ast``; nothing is imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "airflow_mlw"

#: Floor of each module or package, bottom to top; the longest matching prefix wins.
FLOORS: dict[int, tuple[str, ...]] = {
    0: (
        "airflow_mlw",  # the package itself: lazy re-exports and __version__ only
        "airflow_mlw._lazy",
        "airflow_mlw.exceptions",
        "airflow_mlw.config",
        "airflow_mlw.naming",
        "airflow_mlw.run",
        "airflow_mlw.runtime",
        "airflow_mlw.urls",
        "airflow_mlw.hooks",
        "airflow_mlw.api_client",
        "airflow_mlw.get_provider_info",
    ),
    1: ("airflow_mlw.registry",),
    2: ("airflow_mlw.workspace",),
    3: ("airflow_mlw.datastores", "airflow_mlw.environments", "airflow_mlw.compute"),
    4: ("airflow_mlw.datasets", "airflow_mlw.triggers"),
    # HyperDrive: definitions here; its controller and trials run operators (7), its run is a run (8).
    5: ("airflow_mlw.pipelines", "airflow_mlw.models", "airflow_mlw.hyperdrive"),
    # The driver a ParallelRunStep runs in its environment is step execution too.
    6: ("airflow_mlw.execution", "airflow_mlw.parallel_driver"),
    7: (
        "airflow_mlw.operators",
        "airflow_mlw.dag_builder",
        "airflow_mlw.hyperdrive.controller",
        "airflow_mlw.hyperdrive.trials",
    ),
    # Drift monitors are definitions plus the DAG runs that compute their windows (runs/ alongside).
    8: ("airflow_mlw.runs", "airflow_mlw.dags", "airflow_mlw.datadrift", "airflow_mlw.hyperdrive.run"),
    9: (
        "airflow_mlw.plugins",
        "airflow_mlw.cli",
        "airflow_mlw.core",
        "airflow_mlw.pipeline",
        "airflow_mlw.data",
        "airflow_mlw.train",
        "airflow_mlw.widgets",
    ),
}

#: Deferred upward imports that are allowed: (module, function) -> why.
ALLOWED_UPWARD: dict[tuple[str, str], str] = {
    ("airflow_mlw.workspace", "Workspace._create_row"): "a new workspace gets its default datastore",
    ("airflow_mlw.workspace", "Workspace.get_default_datastore"): "Azure's ws.get_default_datastore()",
    ("airflow_mlw.workspace", "Workspace.set_default_datastore"): "Azure's ws.set_default_datastore()",
    ("airflow_mlw.workspace", "Workspace.datastores"): "Azure's ws.datastores",
    ("airflow_mlw.workspace", "Workspace.compute_targets"): "Azure's ws.compute_targets",
    ("airflow_mlw.workspace", "Workspace.environments"): "Azure's ws.environments",
    ("airflow_mlw.workspace", "Workspace.experiments"): "Azure's ws.experiments",
    ("airflow_mlw.workspace", "Workspace.datasets"): "Azure's ws.datasets",
    ("airflow_mlw.workspace", "Workspace.models"): "Azure's ws.models",
    ("airflow_mlw.workspace", "Workspace.webservices"): "Azure's ws.webservices",
    ("airflow_mlw.pipelines.graph", "Pipeline.submit"): "Azure's pipeline.submit()",
    ("airflow_mlw.pipelines.graph", "Pipeline.to_dag"): "the pipeline as an Airflow DAG",
    ("airflow_mlw.pipelines.graph", "Pipeline.as_task_group"): "the pipeline as an Airflow TaskGroup",
    ("airflow_mlw.pipelines.publish", "PublishedPipeline.submit"): "Azure's published.submit()",
    ("airflow_mlw.models.model", "Model.run"): "Azure's model.run (the run that registered it)",
    ("airflow_mlw.run", "Run.__new__"): "Azure's Run(experiment, run_id): the handle of a stored run",
    ("airflow_mlw.run", "Run.get"): "Azure's Run.get(workspace, run_id)",
}


def floor_of(module: str) -> int:
    best: tuple[int, int] | None = None
    for floor, prefixes in FLOORS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (floor, len(prefix))
    assert best is not None, f"{module} is on no floor: add it to FLOORS"
    return best[0]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, int, str | None]]:
    """(imported airflow_mlw module, line, enclosing function or None) of every import in the file."""
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, int, str | None]] = []

    def visit(node: ast.AST, scope: list[str], in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue  # annotations only
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                visit(child, [*scope, child.name], True)
                continue
            if isinstance(child, ast.ClassDef):
                visit(child, [*scope, child.name], in_function)
                continue
            where = ".".join(scope) if in_function else None
            if isinstance(child, ast.Import):
                found.extend((alias.name, child.lineno, where) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                found.append((base, child.lineno, where))
            visit(child, scope, in_function)

    visit(ast.parse(path.read_text()), [], False)
    return [(name, line, where) for name, line, where in found if name.split(".")[0] == "airflow_mlw"]


def modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts)


def test_module_level_imports_point_down() -> None:
    wrong = []
    for path in modules():
        module = module_name(path)
        for imported, line, where in imports(path):
            if where is None and floor_of(imported) > floor_of(module):
                wrong.append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}: {module} (L{floor_of(module)}) imports "
                    f"{imported} (L{floor_of(imported)}) at module level"
                )
    assert not wrong, "upward imports:\n" + "\n".join(wrong)


def test_upward_imports_are_deferred_and_listed() -> None:
    wrong, used = [], set()
    for path in modules():
        module = module_name(path)
        for imported, line, where in imports(path):
            if where is None or floor_of(imported) <= floor_of(module):
                continue
            if (module, where) in ALLOWED_UPWARD:
                used.add((module, where))
                continue
            wrong.append(
                f"{path.relative_to(PACKAGE.parent)}:{line}: {where} in {module} (L{floor_of(module)}) "
                f"imports {imported} (L{floor_of(imported)})"
            )
    assert not wrong, "upward imports outside ALLOWED_UPWARD:\n" + "\n".join(wrong)
    assert used == set(ALLOWED_UPWARD), f"allowed but no longer used: {set(ALLOWED_UPWARD) - used}"


def test_no_module_over_500_lines() -> None:
    long = {
        str(path.relative_to(PACKAGE.parent)): n
        for path in modules()
        if (n := len(path.read_text().splitlines())) > 500
    }
    assert not long, f"modules over 500 lines: {long}"


def test_the_floor_table_catches_an_upward_import(tmp_path: Path) -> None:
    """The check itself: a registry module importing the execution layer at module level is named."""
    (tmp_path / "airflow_mlw" / "registry").mkdir(parents=True)
    bad = tmp_path / "airflow_mlw" / "registry" / "bad.py"
    bad.write_text("from airflow_mlw.execution import records\n\ndef f():\n    from ..runs import x\n")
    global PACKAGE
    saved, PACKAGE = PACKAGE, tmp_path / "airflow_mlw"
    try:
        found = imports(bad)
    finally:
        PACKAGE = saved
    assert found == [("airflow_mlw.execution", 1, None), ("airflow_mlw.runs", 4, "f")]
    assert floor_of("airflow_mlw.execution.records") > floor_of("airflow_mlw.registry.bad")
