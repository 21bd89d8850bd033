"""A blob container registered with an account key on a machine where no Airflow command has run
(no airflow.cfg, so no Fernet key): the embedded default keeps a key of its own; a configured
registry asks for ``[core] fernet_key``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import services
from tests.stores import azurite_endpoint

REGISTER = """
import json, sys
from pathlib import Path
from airflow_mlw.core import Datastore, Workspace
from airflow_mlw.exceptions import MlwError

ws = Workspace.from_config()
try:
    Datastore.register_azure_blob_container(
        ws, sys.argv[1], sys.argv[1], sys.argv[2], account_key=sys.argv[3], endpoint=sys.argv[4],
        create_if_not_exists=True,
    )
except MlwError as exc:
    print(json.dumps({"error": type(exc).__name__, "message": str(exc)}))
    raise SystemExit(0)
Path("hello.txt").write_text("hello")
Datastore.get(ws, sys.argv[1]).upload_files(["hello.txt"], target_path="in", show_progress=False)
listing = Datastore.get(Workspace.from_config(), sys.argv[1]).backend.list("in")
print(json.dumps({"files": sorted(str(f.path) for f in listing)}))
"""


def _fresh(tmp_path: Path, name: str, **extra: str) -> tuple[dict[str, str], Path]:
    home = tmp_path / name / "airflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__") and k != "MLW_CONFIG"}
    env.update({"AIRFLOW_HOME": str(home), **extra})
    (tmp_path / name).mkdir()
    return env, home


def _register(env: dict[str, str], cwd: Path, azurite: Any, container: str) -> dict[str, Any]:
    args = [container, services.AZURITE_ACCOUNT, services.AZURITE_KEY, azurite_endpoint(azurite)]
    run = subprocess.run(
        [sys.executable, "-c", REGISTER, *args], env=env, cwd=cwd, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return dict(json.loads(run.stdout.strip().splitlines()[-1]))


def test_embedded_default_keeps_its_own_key(tmp_path: Path, azurite: Any) -> None:
    env, home = _fresh(tmp_path, "fresh")
    assert not (home / "airflow.cfg").exists()
    got = _register(env, tmp_path / "fresh", azurite, "freshone")
    assert got == {"files": ["in/hello.txt"]}
    key = home / "mlw" / "fernet.key"
    assert key.stat().st_mode & 0o777 == 0o600
    registry = (home / "mlw" / "registry.db").read_bytes()
    assert services.AZURITE_KEY.encode() not in registry
    # The same key opens the credential in a later process (a worker on this machine).
    made = key.read_bytes()
    again = _register(env, tmp_path / "fresh", azurite, "freshtwo")
    assert again == {"files": ["in/hello.txt"]} and key.read_bytes() == made


def test_configured_registry_without_a_key_says_how_to_set_one(tmp_path: Path, azurite: Any) -> None:
    registry = f"sqlite:///{tmp_path / 'shared-registry.db'}"
    env, home = _fresh(tmp_path, "configured", AIRFLOW__MLW__REGISTRY_URL=registry)
    got = _register(env, tmp_path / "configured", azurite, "freshthree")
    assert got["error"] == "FernetKeyError"
    assert "[core] fernet_key" in got["message"] and "AIRFLOW__CORE__FERNET_KEY" in got["message"]
    assert services.AZURITE_KEY not in got["message"]
    assert not (home / "mlw" / "fernet.key").exists()
