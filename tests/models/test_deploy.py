"""A scikit-learn model trained in a container, deployed on the Docker engine, scored over HTTP,
updated under load without a failed request, and deleted."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from airflow_mlw.core import Environment, Experiment, Model, ScriptRunConfig, Webservice
from airflow_mlw.core.model import InferenceConfig
from airflow_mlw.core.webservice import LocalWebservice
from airflow_mlw.exceptions import WebserviceException
from tests.models.conftest import service_containers

TRAIN = """
import pickle
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression

from airflow_mlw.core import Run

run = Run.get_context()
rng = np.random.default_rng(int(sys.argv[2]))
X = rng.normal(size=(400, 2))
y = (X[:, 0] + 2 * X[:, 1] > 0).astype(int)
model = LogisticRegression(C=float(sys.argv[1])).fit(X[:300], y[:300])
run.log("accuracy", float((model.predict(X[300:]) == y[300:]).mean()))
run.log_list("probe", model.predict([[2.0, 1.0], [-2.0, -1.0], [0.6, -0.2], [-0.3, 0.1]]).tolist())
with open("outputs/model.pkl", "wb") as handle:
    pickle.dump(model, handle)
run.register_model("classifier", "outputs/model.pkl")
"""

SCORE = """
import json
import pickle

from airflow_mlw.core.model import Model

def init():
    global model, version
    path = Model.get_model_path("classifier")
    version = int(path.split("/")[-2])
    with open(path, "rb") as handle:
        model = pickle.load(handle)

def run(raw_data):
    return {"version": version, "predictions": model.predict(json.loads(raw_data)["data"]).tolist()}
"""
PROBE = {"data": [[2.0, 1.0], [-2.0, -1.0], [0.6, -0.2], [-0.3, 0.1]]}


def train(workspace: Any, source: Path, c: float, seed: int) -> Any:
    config = ScriptRunConfig(
        str(source), "train.py", arguments=[c, seed], environment=Environment.get(workspace, "MLW-sklearn")
    )
    run = Experiment(workspace, "classifier").submit(config)
    run.wait_for_completion()
    return run


def test_deploy_score_update_under_load_and_delete(
    workspace: Any, deployed: list[str], tmp_path: Path
) -> None:
    (tmp_path / "train").mkdir()
    (tmp_path / "train" / "train.py").write_text(TRAIN)
    (tmp_path / "serve").mkdir()
    (tmp_path / "serve" / "score.py").write_text(SCORE)
    first_run = train(workspace, tmp_path / "train", 1.0, 0)
    first = Model(workspace, "classifier")
    assert (first.version, first.run_id) == (1, first_run.id)
    assert first_run.get_metrics()["accuracy"] > 0.9

    config = InferenceConfig(
        "score.py", source_directory=tmp_path / "serve", environment=Environment.get(workspace, "MLW-sklearn")
    )
    deployed.append("classifier-svc")
    service = Model.deploy(
        workspace, "classifier-svc", [first], config, LocalWebservice.deploy_configuration()
    )
    service.wait_for_deployment(show_output=True)
    assert service.state == "Healthy" and service.scoring_uri.startswith("http://127.0.0.1:")
    expected = {"version": 1, "predictions": first_run.get_metrics()["probe"]}
    assert expected["predictions"][:2] == [1, 0]
    assert service.run(PROBE) == expected
    answer = requests.post(service.scoring_uri, json=PROBE, timeout=10)
    assert (answer.status_code, answer.json()) == (200, expected)
    assert [m.id for m in Webservice(workspace, "classifier-svc").models] == ["classifier:1"]

    second_run = train(workspace, tmp_path / "train", 0.05, 1)
    second = Model(workspace, "classifier")
    assert second.version == 2
    answers: list[tuple[float, int]] = []
    failures: list[str] = []
    stop = threading.Event()

    def score_in_a_loop() -> None:
        with requests.Session() as session:
            while not stop.is_set():
                try:
                    response = session.post(service.scoring_uri, json=PROBE, timeout=30)
                    if response.status_code != 200:
                        failures.append(f"HTTP {response.status_code}: {response.text}")
                    else:
                        answers.append((time.monotonic(), response.json()["version"]))
                except requests.RequestException as exc:
                    failures.append(repr(exc))

    clients = [threading.Thread(target=score_in_a_loop) for _ in range(4)]
    for client in clients:
        client.start()
    time.sleep(0.5)
    service.update(models=[second])
    updated_at = time.monotonic()
    time.sleep(0.5)
    stop.set()
    for client in clients:
        client.join()
    assert failures == []
    versions = [version for _, version in answers]
    assert versions[0] == 1 and versions[-1] == 2 and len(answers) > 100
    assert {version for at, version in answers if at > updated_at + 0.05} == {2}
    assert service.run(PROBE) == {"version": 2, "predictions": second_run.get_metrics()["probe"]}
    assert requests.get(service.scoring_uri.replace("/score", "/health"), timeout=5).json()["revision"] == "2"
    roles = sorted(
        (c.labels["mlw.role"], c.labels.get("mlw.revision"))
        for c in service_containers(workspace, "classifier-svc")
    )
    assert roles == [("front", None), ("scoring", "2")]
    assert "ready (revision 2)" in service.get_logs()

    service.delete()
    assert service_containers(workspace, "classifier-svc") == []
    with pytest.raises(WebserviceException, match="no service named 'classifier-svc'"):
        Webservice(workspace, "classifier-svc")
    with pytest.raises(requests.ConnectionError):
        requests.post(service.scoring_uri, json=PROBE, timeout=5)
