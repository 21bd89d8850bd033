"""The package as users meet it: lazy imports, provider entry point, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

HEAVY = ("airflow", "sqlalchemy", "pandas", "docker", "pyarrow")


def run_python(code: str) -> str:
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_importing_the_package_and_facades_loads_no_heavy_code() -> None:
    out = run_python(
        "import sys, airflow_mlw, airflow_mlw.core\n"
        "from airflow_mlw.core import VERSION\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    assert out.strip() == "[]"


def test_short_style_names_resolve_lazily() -> None:
    out = run_python(
        "from airflow_mlw import Workspace; from airflow_mlw.core import Datastore; print(Workspace.__module__, Datastore.__module__)"
    )
    assert out.split() == ["airflow_mlw.workspace", "airflow_mlw.datastores"]


def test_provider_info_passes_airflow_schema_and_lists_mlw_section() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    info = manager.providers["airflow-mlw"].data
    assert info["package-name"] == "airflow-mlw"
    assert {
        "registry_url",
        "home",
        "default_datastore",
        "default_base_image",
        "build_ca_bundle",
        "pip_index_url",
    } <= set(info["config"]["mlw"]["options"])
    assert info["plugins"] == [{"name": "mlw", "plugin-class": "airflow_mlw.plugins.MlwPlugin"}]

    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks["mlw_local"]
    assert hook is not None and hook.hook_class_name == "airflow_mlw.hooks.local.LocalDatastoreHook"


def test_airflow_providers_list_shows_the_package() -> None:
    airflow = Path(sys.executable).with_name("airflow")
    run = subprocess.run(
        [str(airflow), "providers", "list", "-o", "json"], capture_output=True, text=True, env=os.environ
    )
    assert run.returncode == 0, run.stderr
    listing = next(line for line in run.stdout.splitlines() if line.startswith("["))
    packages = {row["package_name"]: row for row in json.loads(listing)}
    assert packages["airflow-mlw"]["version"] == "0.1.0"


def test_cli_workspace_init_and_show(mlw_home: Path) -> None:
    mlw = Path(sys.executable).with_name("mlw")
    run = subprocess.run([str(mlw), "--json", "workspace", "init"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    details = json.loads(run.stdout)
    assert details["name"] == "default"
    assert details["datastores"]["workspacelocalstore"]["root"] == str(mlw_home / "mlw" / "data" / "default")
    run = subprocess.run(
        [str(mlw), "--json", "workspace", "show", "--name", "missing"], capture_output=True, text=True
    )
    assert run.returncode == 2
    assert "workspace 'missing' not found" in run.stderr
    assert "Traceback" not in run.stderr


def test_wheel_carries_migrations_and_entry_points(tmp_path: Path) -> None:
    import shutil
    import zipfile

    repo = Path(__file__).resolve().parents[1]
    source = tmp_path / "src"
    shutil.copytree(
        repo, source, ignore=shutil.ignore_patterns(".venv", ".cache", ".git", "build", "*.egg-info")
    )
    command = [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-w",
        str(tmp_path),
        str(source),
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    (wheel,) = tmp_path.glob("airflow_mlw-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "airflow_mlw/registry/migrations/versions/0001_initial_registry_schema.py" in names
    assert "airflow_mlw/registry/migrations/env.py" in names
    static = "airflow_mlw/plugins/ui/static/"
    assert {f"{static}charts.js", f"{static}vendor/vega.min.js", f"{static}vendor/LICENSE-vega"} <= names
    assert {f"{static}vendor/vega-lite.min.js", f"{static}vendor/vega-embed.min.js"} <= names
    entry_points = zipfile.ZipFile(wheel).read("airflow_mlw-0.1.0.dist-info/entry_points.txt").decode()
    assert "apache_airflow_provider" in entry_points and "mlw = airflow_mlw.cli:main" in entry_points
    assert "[airflow.plugins]" in entry_points and "mlw = airflow_mlw.plugins:MlwPlugin" in entry_points


def test_scripts_import_dataset_and_run_without_the_registry() -> None:
    """Ported scripts do ``from azureml.core import Run, Dataset`` in images without SQLAlchemy."""
    out = run_python(
        "import sys\nfrom airflow_mlw.core import Dataset, Run\nDataset.Tabular, Dataset.File\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    assert out.strip() == "[]"


def test_tabular_inputs_read_with_pandas_alone_when_pyarrow_is_missing(tmp_path: Path) -> None:
    """Environments that pinned ``azureml-dataset-runtime[pandas]`` have pandas but maybe no pyarrow
    (the pin is not installed): delimited inputs still read. pyarrow is made unimportable in the
    child process, as in such an environment."""
    (tmp_path / "a.csv").write_text("x,y\n1,2\n")
    (tmp_path / "b.csv").write_text("x,y\n3,4\n")
    out = run_python(
        "import sys\nsys.modules['pyarrow'] = None\n"
        "from airflow_mlw.run import InputDataset\n"
        f"spec = {{'path': {str(tmp_path)!r}, 'kind': 'tabular', 'files': ['a.csv', 'b.csv'],"
        " 'format': {'separator': ',', 'header': True}}\n"
        "frame = InputDataset('t', spec).to_pandas_dataframe()\n"
        "print(frame['y'].tolist(), 'pyarrow' in sys.modules and sys.modules['pyarrow'] is not None)"
    )
    assert out.strip() == "[2, 4] False"
