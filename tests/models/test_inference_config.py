"""``InferenceConfig(conda_file=...)`` (DP-100 lab 09's way): the service runs in an environment
made from that file, as Azure's does (it was ignored: the service lacked the file's packages)."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_mlw.core.model import InferenceConfig
from airflow_mlw.exceptions import WebserviceException

CONDA = (
    "name: inference_env\ndependencies:\n- python=3.11\n- scikit-learn\n- pip\n- pip:\n  - azureml-defaults\n"
)


def test_conda_file_makes_the_scoring_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    service = tmp_path / "service"
    service.mkdir()
    (service / "score.py").write_text("def init():\n    pass\n\ndef run(raw):\n    return raw\n")
    (service / "env.yml").write_text(CONDA)
    monkeypatch.chdir(tmp_path)
    from_cwd = InferenceConfig(
        runtime="python", entry_script="service/score.py", conda_file="service/env.yml"
    )
    inside = InferenceConfig(entry_script="score.py", source_directory=str(service), conda_file="env.yml")
    for config in (from_cwd, inside):
        spec = config.scoring_environment().spec()
        assert "scikit-learn" in str(spec), spec
    assert InferenceConfig(entry_script="score.py").scoring_environment().name == "MLW-minimal"
    with pytest.raises(WebserviceException, match="conda_file missing.yml does not exist"):
        InferenceConfig(entry_script="score.py", conda_file="missing.yml").scoring_environment()
