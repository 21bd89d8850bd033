"""The ML Workspace UI's Models page: versions with their run and datasets, and scoring services."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow_mlw.core import Dataset, Model, Workspace
from airflow_mlw.core.model import InferenceConfig
from tests.models.conftest import scoring_source, service_containers


def models_page() -> str:
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow_mlw.plugins.ui import router

    app = FastAPI()
    app.include_router(router)
    app.dependency_overrides[get_user] = lambda: None  # Airflow's auth is tested in tests/test_ui.py
    response = TestClient(app).get("/ui/models")
    assert response.status_code == 200
    return response.text


def test_the_models_page_lists_versions_and_services(
    mlw_home: Path, tmp_path: Path, docker_engine: Any, base_image: str
) -> None:
    ws = Workspace.from_config()
    assert "no models registered" in models_page()
    (tmp_path / "data.csv").write_text("a\n1\n")
    data = Dataset.File.from_files(str(tmp_path / "data.csv")).register(ws, "train-data")
    (tmp_path / "weights.json").write_text("[2.0]")
    model = Model.register(
        ws, tmp_path / "weights.json", "linear", tags={"stage": "prod"}, datasets=[("training", data)]
    )
    service = Model.deploy(
        ws,
        "linear-ui",
        [model],
        InferenceConfig("score.py", source_directory=scoring_source(tmp_path / "src")),
    )
    try:
        page = models_page()
        assert '<tr id="linear-v1"><td>linear</td><td>1</td>' in page
        assert '<span class="tag">stage=prod</span>' in page
        assert '<a href="/ui/datasets/train-data#v1">train-data v1</a>' in page
        assert (
            f'<td>linear-ui</td><td><span class="Healthy">Healthy</span></td><td>{service.scoring_uri}</td><td>linear:1</td>'
            in page
        )
    finally:
        service.delete()
    assert service_containers(ws, "linear-ui") == []
