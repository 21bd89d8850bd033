"""Conda packages in image builds: ``auto`` probes the channel (bounded), else the pip index."""

from __future__ import annotations

import functools
import http.server
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from airflow_mlw.config import load_settings
from airflow_mlw.core.conda_dependencies import CondaDependencies
from airflow_mlw.core.environment import Environment
from airflow_mlw.environments import conda_packages, docker_build
from airflow_mlw.environments.conda_packages import choose_route, pip_requirement, probe_channel
from airflow_mlw.exceptions import MlwEnvironmentError

BUILD_LOG = "airflow_mlw.environments.docker_build"


def conda_env(name: str, *packages: str, channels: list[str] | None = None) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(conda_packages=list(packages))
    for channel in channels or []:
        env.python.conda_dependencies.add_channel(channel)
    env.docker.enabled = True
    return env


@pytest.fixture
def local_channel(tmp_path: Path) -> Iterator[str]:
    """A conda channel served over HTTP on this host (its repodata answers)."""
    (tmp_path / "channel" / "noarch").mkdir(parents=True)
    (tmp_path / "channel" / "noarch" / "repodata.json").write_text('{"packages": {}}')

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/channel"
    server.shutdown()


def test_the_default_is_auto() -> None:
    assert load_settings().conda_packages_via == "auto"


def test_conda_names_become_pip_requirements() -> None:
    assert [
        pip_requirement(s)
        for s in ["scikit-learn", "numpy=1.21", "conda-forge::pytorch>=1.10", "pandas 1.3.*", "py-xgboost"]
    ] == ["scikit-learn", "numpy==1.21.*", "torch>=1.10", "pandas==1.3.*", "xgboost"]
    assert [pip_requirement(s) for s in ["python=3.8", "libgcc-ng", "_openmp_mutex", "mkl-service"]] == [
        None
    ] * 4


def test_a_channel_that_answers_probes_clean(local_channel: str) -> None:
    assert probe_channel(local_channel, load_settings()) is None
    failure = probe_channel(local_channel + "-missing", load_settings())
    assert failure is not None and "404" in failure and "channel-missing/noarch/repodata.json" in failure


def test_a_silent_channel_is_given_up_on_within_the_timeout() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts the connection, never answers
    started = time.monotonic()
    failure = probe_channel(f"http://127.0.0.1:{silent.getsockname()[1]}/ch", load_settings(), timeout=1.0)
    elapsed = time.monotonic() - started
    silent.close()
    assert failure is not None and "timed out" in failure
    assert elapsed < 2.0


def test_auto_takes_pip_when_the_base_image_has_no_conda(
    local_channel: str, docker_engine: Any, base_image: str
) -> None:
    import docker

    env = conda_env("route-env", "six", channels=[local_channel])
    route = choose_route(env, load_settings(), docker.from_env(), base_image)
    assert route.via == "pip"
    assert route.reason == (
        f"[mlw] conda_packages_via = auto: base image {base_image!r} has no micromamba, mamba, conda on PATH"
    )


def test_conda_on_a_base_image_without_conda_fails_naming_the_image(
    workspace: Any, docker_engine: Any, base_image: str
) -> None:
    env = conda_env("conda-only-env", "six")
    env.environment_variables = {"MLW_TEST_RUN": uuid.uuid4().hex}
    settings = replace(workspace.settings, conda_packages_via="conda")
    with pytest.raises(MlwEnvironmentError) as info:
        docker_build._build_once(
            docker_build.docker_client(),
            env,
            settings,
            base_image,
            f"mlw-env/conda-only-env:{uuid.uuid4().hex[:12]}",
        )
    assert f"no micromamba, mamba, conda on PATH in base image {base_image}" in str(info.value)
    assert "conda_packages_via = pip" in str(info.value)


def test_scikit_learn_from_conda_packages_builds_through_pip_when_no_channel_answers(
    workspace: Any, docker_engine: Any, base_image: str, caplog: pytest.LogCaptureFixture
) -> None:
    import docker

    assert probe_channel("conda-forge", workspace.settings) is not None, "this test needs no conda channel"
    env = conda_env("sklearn-conda", "scikit-learn")
    env.environment_variables = {"MLW_TEST_RUN": uuid.uuid4().hex}  # a fresh spec: a fresh image
    caplog.set_level(logging.INFO, logger=BUILD_LOG)
    started = time.monotonic()
    tag = env.build(workspace)
    elapsed = time.monotonic() - started
    messages = [r.getMessage() for r in caplog.records if r.name == BUILD_LOG]
    said = [m for m in messages if "conda packages scikit-learn installed from the pip index" in m]
    assert said and "conda channel 'conda-forge' did not answer" in said[0], messages
    out = docker.from_env().containers.run(
        tag, ["python", "-c", "import sklearn; print(sklearn.__name__)"], remove=True
    )
    assert out.decode().strip() == "sklearn"
    print(f"image build with auto->pip for scikit-learn: {elapsed:.1f} s")
    docker.from_env().images.remove(tag, force=True)


def test_probe_runs_at_build_time_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("a Dockerfile preview does not probe")

    monkeypatch.setattr(conda_packages, "probe_channel", no_probe)
    text = docker_build.dockerfile(conda_env("preview", "six"), load_settings(), "mlw-base:bookworm")
    assert '"$CONDA_EXE" create -y -p /opt/mlw-env -c conda-forge python pip six' in text
