"""Environment images built for real on the Docker engine (pip through the host's proxy CA)."""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

import pytest

from airflow_mlw.core.conda_dependencies import CondaDependencies
from airflow_mlw.core.environment import Environment
from airflow_mlw.environments import docker_build
from airflow_mlw.exceptions import MlwEnvironmentError


def pip_env(name: str, *packages: str) -> Environment:
    env = Environment(name)
    env.python.conda_dependencies = CondaDependencies.create(pip_packages=list(packages))
    env.docker.enabled = True
    env.environment_variables = {"MLW_TEST_RUN": uuid.uuid4().hex}  # a fresh spec: a fresh image
    return env


def test_build_once_then_reuse_without_a_build_call(
    workspace: Any,
    docker_engine: Any,
    base_image: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import docker

    env = pip_env("six-env", "six==1.16.0")
    env.register(workspace)
    caplog.set_level(logging.INFO, logger="airflow_mlw.environments.docker_build")
    tag = env.build(workspace)
    assert tag.startswith("mlw-env/six-env:")
    assert Environment.get(workspace, "six-env").image_tag == tag  # recorded for `mlw env show` and the UI
    assert any("[build]" in r.getMessage() for r in caplog.records), "the build log is streamed"
    client = docker.from_env()
    out = client.containers.run(
        tag,
        ["python", "-c", "import six, os; print(six.__version__, os.environ['MLW_TEST_RUN'])"],
        remove=True,
    )
    assert out.decode().split() == ["1.16.0", env.environment_variables["MLW_TEST_RUN"]]

    def no_build(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("an existing tag must not be rebuilt")

    monkeypatch.setattr(docker_build, "_build", no_build)
    assert env.build(workspace) == tag
    client.images.remove(tag, force=True)


def test_concurrent_requests_build_once(
    workspace: Any, docker_engine: Any, base_image: str, caplog: pytest.LogCaptureFixture
) -> None:
    import docker

    env = pip_env("concurrent-env")
    caplog.set_level(logging.INFO, logger="airflow_mlw.environments.docker_build")
    tags: list[str] = []
    threads = [
        threading.Thread(target=lambda: tags.append(docker_build.ensure_image(env, workspace)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(tags)) == 1 and len(tags) == 3
    assert sum(r.getMessage().startswith("building image") for r in caplog.records) == 1
    docker.from_env().images.remove(tags[0], force=True)


def test_unresolvable_package_fails_with_pips_message_and_no_tag(
    workspace: Any, docker_engine: Any, base_image: str
) -> None:
    import docker

    env = pip_env("broken-env", "this-package-does-not-exist-mlw==0.0.1")
    with pytest.raises(MlwEnvironmentError, match="building environment 'broken-env' failed") as info:
        env.build(workspace)
    assert "No matching distribution found for this-package-does-not-exist-mlw" in str(info.value)
    base_id = docker.from_env().images.get(base_image).id
    with pytest.raises(docker.errors.ImageNotFound):
        docker.from_env().images.get(docker_build.image_tag(env, base_id))


def test_unreachable_engine_and_missing_base_are_named(workspace: Any, docker_engine: Any) -> None:
    with pytest.raises(MlwEnvironmentError, match=r"Docker engine at tcp://127.0.0.1:9 is unreachable"):
        docker_build.ensure_image(pip_env("x"), workspace, docker_url="tcp://127.0.0.1:9")
    env = pip_env("x")
    env.docker.base_image = "no-such-base:latest"
    with pytest.raises(
        MlwEnvironmentError, match="base image 'no-such-base:latest' is not on the Docker engine"
    ):
        env.build(workspace)
