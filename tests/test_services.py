"""The test harness's services are real: each one answers its own protocol on loopback."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests import services

REPO = Path(__file__).resolve().parents[1]


def test_s3_server_stores_and_returns_objects(s3_server: services.BackgroundServer) -> None:
    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{s3_server.port}",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket="harness")
    client.put_object(Bucket="harness", Key="a/b.txt", Body=b"hello")
    assert client.get_object(Bucket="harness", Key="a/b.txt")["Body"].read() == b"hello"


def test_azurite_stores_and_returns_blobs(azurite: services.BackgroundServer) -> None:
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(services.azurite_connection_string(azurite.port))
    container = client.create_container("harness")
    container.upload_blob("a/b.txt", b"hello")
    assert container.download_blob("a/b.txt").readall() == b"hello"


def test_postgres_accepts_connections(postgres: services.Postgres) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres.create_database("harness"))
    with engine.connect() as connection:
        assert (
            connection.execute(text("select current_setting('server_version_num')::int")).scalar_one()
            >= 150000
        )
    engine.dispose()


def test_docker_runs_python_in_the_locally_built_base_image(
    docker_engine: services.DockerEngine, base_image: str
) -> None:
    import docker

    client = docker.DockerClient(base_url=docker_engine.url)
    output = client.containers.run(base_image, ["python3", "-c", "print(6 * 7)"], remove=True)
    assert output.strip() == b"42"
    client.close()


def compose_config(*options: str) -> dict:  # type: ignore[type-arg]
    """``docker-compose config`` of the repository's file (validated by docker-compose), parsed."""
    import yaml

    run = subprocess.run(
        ["docker-compose", "-f", str(REPO / "docker-compose.yaml"), *options, "config"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert run.returncode == 0, run.stderr
    return yaml.safe_load(run.stdout)  # type: ignore[no-any-return]


def services_of_profile(config: dict, profile: str) -> dict:  # type: ignore[type-arg]
    """The services ``docker compose --profile <profile> up`` starts (those without profiles, too)."""
    services = {
        name: service
        for name, service in config["services"].items()
        if not service.get("profiles") or profile in service["profiles"]
    }
    for name, service in services.items():
        missing = set(service.get("depends_on") or {}) - set(services)
        assert not missing, f"{profile}: {name} depends on {missing}, which is not in that profile"
    return services


def test_docker_compose_file_is_valid() -> None:
    config = compose_config()
    assert (REPO / ".env").read_text().count("COMPOSE_PROFILES=local") == 1  # the default profile
    local = services_of_profile(config, "local")
    assert {
        "postgres",
        "s3",
        "airflow-api-server",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(local)
    assert not {"redis", "airflow-worker-cpu", "airflow-worker-gpu"} & set(local)
    assert local["airflow-scheduler"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


def test_docker_compose_celery_profile_has_redis_and_a_worker_per_queue() -> None:
    config = compose_config("--profile", "celery")
    celery = services_of_profile(config, "celery")
    assert {"redis", "airflow-scheduler-celery", "airflow-worker-cpu", "airflow-worker-gpu"} <= set(celery)
    assert "airflow-scheduler" not in celery  # one scheduler, with the Celery executor
    workers = {name: celery[name] for name in ("airflow-worker-cpu", "airflow-worker-gpu")}
    queues = {}
    for name, worker in workers.items():
        command = worker["command"]
        command = command if isinstance(command, list) else command.split()
        assert command[:2] == ["celery", "worker"]
        queues[name] = command[command.index("--queues") + 1]
        # No shared local disk between workers: data goes through the S3 default datastore.
        sources = [v["source"] if isinstance(v, dict) else v.split(":")[0] for v in worker["volumes"]]
        assert "mlw-home" not in sources and f"mlw-home-{queues[name]}" in sources
    assert queues == {"airflow-worker-cpu": "cpu", "airflow-worker-gpu": "gpu"}
    assert len({worker["hostname"] for worker in workers.values()}) == 2
    for name in ("airflow-scheduler-celery", *workers):
        env = celery[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://redis:6379/0"
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://")
        assert env["AIRFLOW__MLW__REGISTRY_URL"].startswith("postgresql+psycopg2://")
    init = " ".join(celery["mlw-init-celery"]["command"])
    assert "queue=queue" in init and '("cpu-cluster", "cpu"), ("gpu-cluster", "gpu")' in init
    assert 'set_default_datastore("lake")' in init and "mlw compute sync" in init
