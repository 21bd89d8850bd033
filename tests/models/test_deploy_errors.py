"""Scoring services given bad input: each failure says what was wrong and leaves nothing behind."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_mlw.core import Model, Webservice
from airflow_mlw.core.model import InferenceConfig
from airflow_mlw.core.webservice import LocalWebservice
from airflow_mlw.exceptions import ModelNotFoundError, WebserviceException
from airflow_mlw.models.webservice import find_service
from tests.models.conftest import free_port, linear_model, scoring_source, service_containers

NO_INIT = "def run(raw_data):\n    return 1\n"
INIT_RAISES = (
    "def init():\n    raise RuntimeError('weights are corrupt')\n\ndef run(raw_data):\n    return 1\n"
)


def test_an_entry_script_without_init_fails_with_that_reason_and_the_log_tail(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    model = linear_model(workspace, tmp_path / "m", [1.0])
    deployed.append("broken")
    service = Model.deploy(
        workspace,
        "broken",
        [model],
        InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "a", NO_INIT)),
    )
    assert service.state == "Failed"
    with pytest.raises(
        WebserviceException, match=r"entry script score.py defines no init\(\) function"
    ) as failure:
        service.wait_for_deployment()
    assert "container log (last lines):\nmlw-scoring: cannot load entry script" in str(failure.value)
    assert "defines no init() function" in Webservice(workspace, "broken").get_logs()
    assert service_containers(workspace, "broken") == []

    raising = InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "b", INIT_RAISES))
    service = Model.deploy(workspace, "broken", [model], raising, overwrite=True)
    with pytest.raises(WebserviceException, match=r"init\(\) of score.py raised") as failure:
        service.wait_for_deployment()
    assert "RuntimeError: weights are corrupt" in str(failure.value)


def test_run_raising_is_a_500_bad_json_a_400_and_the_service_stays_up(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    model = linear_model(workspace, tmp_path / "m", [1.0, 2.0])
    deployed.append("linear")
    service = Model.deploy(
        workspace,
        "linear",
        [model],
        InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src")),
    )
    service.wait_for_deployment()
    failed = requests.post(service.scoring_uri, data='"fail"', timeout=10)
    assert (failed.status_code, failed.json()) == (500, {"error": "ValueError: asked to fail"})
    with pytest.raises(
        WebserviceException, match="service 'linear' answered HTTP 500: ValueError: asked to fail"
    ):
        service.run('"fail"')
    not_json = requests.post(service.scoring_uri, data="rows=1,2", timeout=10)
    assert not_json.status_code == 400
    assert not_json.json()["error"].startswith("request body is not JSON: Expecting value")
    assert (
        requests.post(service.scoring_uri.replace("/score", "/predict"), data="{}", timeout=10).status_code
        == 404
    )
    assert service.run({"data": [[1, 1]]}) == {"version": 1, "scores": [3.0]}
    assert service.state == "Healthy"
    assert "ValueError: asked to fail" in service.get_logs()


def test_a_port_in_use_is_refused_naming_it(workspace: Any, deployed: list[str], tmp_path: Path) -> None:
    model = linear_model(workspace, tmp_path / "m", [1.0])
    config = InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src"))
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        deployed.append("taken-port")
        with pytest.raises(WebserviceException, match=f"port {port} on 127.0.0.1 is already in use"):
            Model.deploy(
                workspace, "taken-port", [model], config, LocalWebservice.deploy_configuration(port=port)
            )
    assert find_service(workspace, "taken-port") is None
    assert service_containers(workspace, "taken-port") == []
    # A port another service holds is refused the same way.
    port = free_port()
    deployed.append("first")
    Model.deploy(
        workspace, "first", [model], config, LocalWebservice.deploy_configuration(port=port)
    ).wait_for_deployment()
    deployed.append("second")
    with pytest.raises(WebserviceException, match=f"port {port} on 127.0.0.1 is already in use"):
        Model.deploy(workspace, "second", [model], config, LocalWebservice.deploy_configuration(port=port))
    assert Webservice(workspace, "first").run({"data": [[2]]}) == {"version": 1, "scores": [2.0]}


def test_unknown_models_and_taken_names_are_refused(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    model = linear_model(workspace, tmp_path / "m", [1.0])
    config = InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src"))
    with pytest.raises(ModelNotFoundError, match="no model named 'nope' in workspace 'test'"):
        Model.deploy(workspace, "svc", ["nope"], config)
    with pytest.raises(ModelNotFoundError, match="model 'linear' has no version 9"):
        Model.deploy(workspace, "svc", ["linear:9"], config)
    with pytest.raises(WebserviceException, match="service name 'Bad_Name' is invalid"):
        Model.deploy(workspace, "Bad_Name", [model], config)
    with pytest.raises(WebserviceException, match="entry_script 'missing.py' not found in"):
        Model.deploy(
            workspace, "svc", [model], InferenceConfig("missing.py", source_directory=tmp_path / "src")
        )
    assert Webservice.list(workspace) == []

    deployed.append("svc")
    first = Model.deploy(workspace, "svc", ["linear:1"], config)
    with pytest.raises(
        WebserviceException,
        match="a service named 'svc' already exists in workspace 'test'; pass overwrite=True",
    ):
        Model.deploy(workspace, "svc", [model], config)
    assert first.run({"data": [[5]]}) == {"version": 1, "scores": [5.0]}
    newer = linear_model(workspace, tmp_path / "m", [10.0])
    replaced = Model.deploy(workspace, "svc", [newer], config, overwrite=True)
    assert replaced.run({"data": [[5]]}) == {"version": 2, "scores": [50.0]}
    assert [s.name for s in Webservice.list(workspace, model_name="linear")] == ["svc"]


def test_a_failed_update_leaves_the_previous_revision_serving(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    model = linear_model(workspace, tmp_path / "m", [1.0])
    deployed.append("steady")
    service = Model.deploy(
        workspace,
        "steady",
        [model],
        InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src")),
    )
    broken = InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "broken", NO_INIT))
    with pytest.raises(
        WebserviceException,
        match=r"update of service 'steady' failed; the previous revision keeps serving.\n.*defines no init\(\)",
    ):
        service.update(inference_config=broken)
    assert service.state == "Healthy"
    assert service.run({"data": [[4]]}) == {"version": 1, "scores": [4.0]}
    assert [c.labels.get("mlw.revision") for c in service_containers(workspace, "steady")] == ["1", None]


def test_a_killed_scoring_container_is_unhealthy_until_an_update_replaces_it(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    model = linear_model(workspace, tmp_path / "m", [1.0])
    config = InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src"))
    deployed.append("fragile")
    service = Model.deploy(workspace, "fragile", [model], config)
    scoring = [c for c in service_containers(workspace, "fragile") if c.labels["mlw.role"] == "scoring"][0]
    scoring.kill()
    assert service.state == "Unhealthy"
    with pytest.raises(
        WebserviceException, match="no running revision to take the source from: pass inference_config"
    ):
        service.update()
    service.update(inference_config=config)
    assert service.state == "Healthy" and service.run({"data": [[7]]}) == {"version": 1, "scores": [7.0]}
