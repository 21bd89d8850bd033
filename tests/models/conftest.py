"""Shared pieces of the model and scoring-service tests: a linear model as JSON, its scoring script,
and clean-up of every service container a test leaves."""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

LINEAR_SCORE = """
import json
from airflow_mlw.core.model import Model

def init():
    global weights, version
    path = Model.get_model_path("linear")
    weights = json.load(open(path))
    version = int(path.split("/")[-2])

def run(raw_data):
    data = json.loads(raw_data)
    if data == "fail":
        raise ValueError("asked to fail")
    return {"version": version, "scores": [sum(w * x for w, x in zip(weights, row)) for row in data["data"]]}
"""


def free_port(count: int = 1) -> int:
    """The first of ``count`` consecutive free ports, below the kernel's ephemeral range (whose
    ports outgoing connections take at any moment)."""
    while True:
        first = random.randrange(20000, 32000)
        try:
            for port in range(first, first + count):
                with socket.socket() as probe:
                    probe.bind(("0.0.0.0", port))
        except OSError:
            continue
        return first


def linear_model(workspace: Any, folder: Path, weights: list[float]) -> Any:
    """Register ``weights`` as the next version of model ``linear``."""
    from airflow_mlw.core import Model

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weights.json").write_text(json.dumps(weights))
    return Model.register(workspace, folder / "weights.json", "linear")


def scoring_source(folder: Path, text: str = LINEAR_SCORE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "score.py").write_text(text)
    return folder


def service_containers(workspace: Any, name: str) -> list[Any]:
    from airflow_mlw.models.containers import ServiceContainers

    return list(ServiceContainers(workspace.name, name).containers())


@pytest.fixture
def deployed(workspace: Any, docker_engine: Any, base_image: str) -> Iterator[list[str]]:
    """Names of the services a test deploys; their containers are removed afterwards whatever happened."""
    from airflow_mlw.models.containers import ServiceContainers

    names: list[str] = []
    yield names
    for name in names:
        ServiceContainers(workspace.name, name).remove_all()
